"""A process owner's work-in-progress draft: an invalid diagram is kept with its problems (each
naming its element), read back as saved, never a version; saving it as a version goes through
the validated upload, which can discard the draft in the same request."""

from __future__ import annotations

from pathlib import Path

from engine.processes.models import ProcessVersion
from tests.helpers import DATA, auth, count

SHIPPED = Path(__file__).resolve().parents[2] / "processes"
REACTIVE = (SHIPPED / "reactive_case.bpmn").read_bytes()
BROKEN = (DATA / "processes" / "modeler_many_problems.bpmn").read_bytes()
URL = "/api/v1/processes/reactive_case/draft"


def _put(client, key, data: bytes, url: str = URL, **params):  # type: ignore[no-untyped-def]
    files = {"file": ("reactive_case.bpmn", data, "application/xml")}
    return client.put(url, files=files, params=params, headers=auth(key))


def test_an_invalid_diagram_is_kept_as_a_draft_with_its_problems_and_is_no_version(client, keys):
    owner = auth(keys["process_owner"])
    before = count(ProcessVersion)
    r = _put(client, keys["process_owner"], BROKEN, base_version=1)
    assert r.status_code == 200, r.text
    draft = r.json()
    assert draft["key"] == "reactive_case" and draft["kind"] == "bpmn" and draft["base_version"] == 1
    assert draft["valid"] is False and len(draft["problems"]) >= 2
    assert any(p["element_id"] for p in draft["problems"]) and all(p["message"] for p in draft["problems"])
    assert draft["saved_by"] == "process_owner" and draft["size"] == len(BROKEN)
    assert count(ProcessVersion) == before, "a draft is not a version"

    assert client.get(URL, headers=owner).json() == draft
    xml = client.get(URL + "/xml", headers=owner)
    assert xml.status_code == 200 and xml.content == BROKEN
    listed = client.get("/api/v1/processes", headers=owner).json()["items"]
    (reactive,) = [d for d in listed if d["key"] == "reactive_case"]
    assert [v["version"] for v in reactive["versions"]] == [1] and reactive["deployed_version"] == 1


def test_a_fixed_draft_validates_and_saving_it_as_a_version_discards_it(client, keys):
    owner = auth(keys["process_owner"])
    first = _put(client, keys["process_owner"], BROKEN).json()
    fixed = REACTIVE.replace(b'name="Triage"', b'name="Triage the depot"')
    r = _put(client, keys["process_owner"], fixed, base_version=1)
    assert r.status_code == 200, r.text
    again = r.json()
    assert (again["valid"], again["problems"], again["base_version"]) == (True, [], 1)
    assert again["created_at"] == first["created_at"] and again["saved_at"] > first["saved_at"]

    kept = client.post(
        "/api/v1/processes", files={"file": ("p.bpmn", fixed, "application/xml")}, headers=owner
    )
    assert kept.status_code == 201 and kept.json()["draft_discarded"] is False
    assert client.get(URL, headers=owner).status_code == 200, "an upload keeps the draft unless asked"
    saved = client.post(
        "/api/v1/processes",
        params={"discard_draft": "true"},
        files={"file": ("p.bpmn", fixed.replace(b"the depot", b"the parcel"), "application/xml")},
        headers=owner,
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 3 and saved.json()["draft_discarded"] is True
    gone = client.get(URL, headers=owner)
    assert gone.status_code == 404 and gone.json()["error"] == "DraftNotFound"
    assert "PUT /api/v1/processes/reactive_case/draft" in gone.json()["detail"]


def test_an_invalid_upload_leaves_the_draft_as_it_was(client, keys):
    owner = auth(keys["process_owner"])
    _put(client, keys["process_owner"], BROKEN)
    bad = client.post(
        "/api/v1/processes",
        params={"discard_draft": "true"},
        files={"file": ("p.bpmn", BROKEN, "application/xml")},
        headers=owner,
    )
    assert bad.status_code == 422
    assert client.get(URL + "/xml", headers=owner).content == BROKEN


def test_a_valid_file_that_is_not_this_key_is_a_problem_of_the_draft(client, keys):
    other = REACTIVE.replace(b'id="reactive_case"', b'id="reactive_case_2"')
    assert other != REACTIVE
    r = _put(client, keys["process_owner"], other).json()
    assert r["valid"] is False and "'reactive_case_2'" in r["problems"][0]["message"]
    dmn = _put(client, keys["process_owner"], (SHIPPED / "routing.dmn").read_bytes()).json()
    assert dmn["valid"] is False and "DMN file" in dmn["problems"][0]["message"]


def test_draft_requests_refused_with_what_to_do(client, keys):
    owner = auth(keys["process_owner"])
    missing = client.get(URL, headers=owner)
    assert missing.status_code == 404 and missing.json()["error"] == "DraftNotFound"
    assert client.delete(URL, headers=owner).json()["error"] == "DraftNotFound"
    unknown = _put(client, keys["process_owner"], BROKEN, url="/api/v1/processes/nope/draft")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFound"
    assert _put(client, keys["process_owner"], BROKEN, base_version=99).status_code == 404
    assert _put(client, keys["process_owner"], b"  ").status_code == 422
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'
    assert _put(client, keys["process_owner"], dtd).status_code == 400
    for role in ("csr", "supervisor"):
        assert _put(client, keys[role], BROKEN).status_code == 403
    assert client.get(URL, headers=owner).status_code == 404, "nothing refused was stored"

    _put(client, keys["process_owner"], BROKEN)
    assert client.delete(URL, headers=owner).status_code == 204
    assert client.get(URL, headers=owner).status_code == 404


def test_the_modeler_page_offers_the_draft_and_opens_it(client, keys):
    assert (
        client.post("/signin", data={"key": keys["process_owner"]}, follow_redirects=False).status_code == 303
    )
    assert client.get("/workbench/processes/reactive_case?draft=1").status_code == 404
    page = client.get("/workbench/processes/reactive_case")
    assert page.status_code == 200 and 'id="draft-note"' not in page.text
    _put(client, keys["process_owner"], BROKEN, base_version=1)
    offered = client.get("/workbench/processes/reactive_case").text
    assert "has a work-in-progress draft, saved by process_owner" in offered and 'href="?draft=1"' in offered
    opened = client.get("/workbench/processes/reactive_case?draft=1")
    assert opened.status_code == 200 and 'data-draft="1"' in opened.text and 'data-base="1"' in opened.text
    assert 'id="deploy"' not in opened.text, "nothing to deploy while editing the draft"


def test_a_save_naming_the_draft_it_replaces_never_overwrites_another(client, keys):
    owner = auth(keys["process_owner"])
    first = _put(client, keys["process_owner"], BROKEN, replaces="none")
    assert first.status_code == 200, first.text
    again = _put(client, keys["process_owner"], REACTIVE, replaces="none")
    assert again.status_code == 409 and again.json()["error"] == "DraftChanged"
    assert "saved by process_owner" in again.json()["detail"]
    stale = _put(client, keys["process_owner"], REACTIVE, replaces="0" * 64)
    assert stale.status_code == 409 and stale.json()["error"] == "DraftChanged"
    assert client.get(URL + "/xml", headers=owner).content == BROKEN, "the refused saves changed nothing"
    moved_on = _put(client, keys["process_owner"], REACTIVE, replaces=first.json()["sha256"])
    assert moved_on.status_code == 200 and moved_on.json()["valid"] is True
    assert _put(client, keys["process_owner"], REACTIVE, replaces="not-a-sha").status_code == 422
    client.delete(URL, headers=owner)
    gone = _put(client, keys["process_owner"], BROKEN, replaces=moved_on.json()["sha256"])
    assert gone.status_code == 409 and "is gone" in gone.json()["detail"]
