"""Process owners upload, validate, version and deploy BPMN/DMN through the HTTP API."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.processes.models import ProcessDefinition, ProcessVersion
from tests.helpers import DATA, auth, count, drain, signal_body

CORPUS = DATA / "processes"
SHIPPED = Path(__file__).resolve().parents[2] / "processes"


def upload(client, key, data: bytes, name: str = "file.bpmn"):
    return client.post(
        "/api/v1/processes", files={"file": (name, data, "application/xml")}, headers=auth(key)
    )


def stored() -> tuple[int, int]:
    return count(ProcessDefinition), count(ProcessVersion)


def reactive_v2() -> bytes:
    xml = (SHIPPED / "reactive_case.bpmn").read_bytes()
    changed = xml.replace(b'"enum": ["respond", "dismiss"]', b'"enum": ["respond", "dismiss", "escalate"]', 1)
    assert changed != xml
    return changed


def test_a_modeler_export_is_accepted_and_deployed(client, keys):
    owner = auth(keys["process_owner"])
    r = upload(client, keys["process_owner"], (CORPUS / "modeler_collaboration.bpmn").read_bytes())
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["key"], body["version"], body["status"], body["created"]) == (
        "Process_partner_complaint",
        1,
        "draft",
        True,
    )
    assert {w["element_id"] for w in body["warnings"]} == {"Activity_answer", "Activity_review"}
    r = client.post("/api/v1/processes/Process_partner_complaint/versions/1/deploy", headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "deployed"
    assert r.json()["deployed_by"] == "process_owner"
    listing = client.get("/api/v1/processes", headers=owner).json()["items"]
    found = next(d for d in listing if d["key"] == "Process_partner_complaint")
    assert found["deployed_version"] == 1 and found["versions"][0]["uploaded_by"] == "process_owner"
    xml = client.get("/api/v1/processes/Process_partner_complaint/versions/1/xml", headers=owner)
    assert xml.content == (CORPUS / "modeler_collaboration.bpmn").read_bytes()


def test_identical_reupload_returns_the_stored_version(client, keys):
    data = (CORPUS / "modeler_collaboration.bpmn").read_bytes()
    assert upload(client, keys["process_owner"], data).status_code == 201
    before = stored()
    again = upload(client, keys["process_owner"], data)
    assert again.status_code == 200 and again.json()["version"] == 1 and again.json()["created"] is False
    assert stored() == before


def test_new_reactive_case_version_applies_to_new_cases_only_and_rolls_back(client, keys):
    owner, csr = auth(keys["process_owner"]), auth(keys["csr"])
    first = _case(client, keys)
    r = upload(client, keys["process_owner"], reactive_v2(), "reactive_case.bpmn")
    assert r.status_code == 201 and r.json()["version"] == 2
    diff = client.get("/api/v1/processes/reactive_case/versions/2/diff", headers=owner).json()
    assert diff["against"] == 1 and diff["forms_changed"] == ["triage"]
    assert [c["id"] for c in diff["changed"]] == ["triage"] and not diff["added"] and not diff["removed"]
    assert client.post("/api/v1/processes/reactive_case/versions/2/deploy", headers=owner).status_code == 200

    second = _case(client, keys)
    assert second["process"]["version"] == 2
    triage = client.get(f"/api/v1/tasks/{second['tasks'][0]['id']}", headers=csr).json()
    assert "escalate" in triage["form"]["properties"]["action"]["enum"]
    assert _work_to_resolution(client, keys, first)["process"] == {**first["process"], "status": "completed"}

    back = client.post("/api/v1/processes/reactive_case/versions/1/deploy", headers=owner)
    assert back.status_code == 200 and back.json()["status"] == "deployed"
    assert _case(client, keys)["process"]["version"] == 1
    versions = client.get("/api/v1/processes", headers=owner).json()["items"]
    reactive = next(d for d in versions if d["key"] == "reactive_case")
    assert reactive["deployed_version"] == 1
    assert [v["status"] for v in reactive["versions"]] == ["deployed", "draft"]
    audit = client.get("/api/v1/processes/reactive_case/audit", headers=owner).json()["items"]
    assert [(e["type"], e["version"], e["actor"]) for e in audit[:3]] == [
        ("process.deployed", 1, "process_owner"),
        ("process.deployed", 2, "process_owner"),
        ("process.uploaded", 2, "process_owner"),
    ]


def test_redeploying_the_deployed_version_is_a_noop(client, keys):
    owner = auth(keys["process_owner"])
    audit = client.get("/api/v1/processes/reactive_case/audit", headers=owner).json()["items"]
    r = client.post("/api/v1/processes/reactive_case/versions/1/deploy", headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "deployed"
    assert client.get("/api/v1/processes/reactive_case/audit", headers=owner).json()["items"] == audit
    assert client.post("/api/v1/processes/reactive_case/versions/9/deploy", headers=owner).status_code == 404
    assert client.post("/api/v1/processes/nope/versions/1/deploy", headers=owner).status_code == 404


def test_version_detail_shows_audit_warnings_and_changes(client, keys):
    owner = auth(keys["process_owner"])
    upload(client, keys["process_owner"], reactive_v2())
    detail = client.get("/api/v1/processes/reactive_case/versions/2", headers=owner).json()
    assert detail["problems"] == [] and detail["status"] == "draft"
    assert detail["changes"]["forms_changed"] == ["triage"]
    assert [(a["type"], a["actor"]) for a in detail["audit"]] == [("process.uploaded", "process_owner")]
    assert "escalate" in detail["forms"]["triage"]["properties"]["action"]["enum"]


def test_roles(client, keys):
    data = reactive_v2()
    assert upload(client, keys["csr"], data).status_code == 403
    assert upload(client, keys["integration"], data).status_code == 403
    assert upload(client, keys["admin"], data).status_code == 201
    r = client.post("/api/v1/processes/reactive_case/versions/2/deploy", headers=auth(keys["supervisor"]))
    assert r.status_code == 403


INVALID = [
    ("modeler_many_problems.bpmn", {"Activity_check", "Flow_yes", "Event_sla", "Flow_no", "Gateway_valid"}),
    ("camunda_class.bpmn", {"Activity_answer"}),
    ("sandbox_scripts.bpmn", {"Activity_review"}),
    ("schema_violation.bpmn", {"Process_partner_complaint", "Activity_odd"}),
    (
        "broken_table.dmn",
        {"DecisionTable_1", "Input_1", "Input_2", "LiteralExpression_1", "DecisionRule_rest"},
    ),
]


@pytest.mark.parametrize(("name", "elements"), INVALID)
def test_invalid_files_name_every_element_and_store_nothing(client, keys, name, elements):
    before = stored()
    r = upload(client, keys["process_owner"], (CORPUS / name).read_bytes(), name)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "DefinitionInvalid"
    named = {f["element_id"] for f in body["fields"]}
    assert elements <= named
    assert all(f["message"] for f in body["fields"])
    assert stored() == before


OLD_CORPUS = [
    ("malformed.bpmn", None),
    ("no_executable.bpmn", None),
    ("missing_target.bpmn", "f_dangling"),
    ("bad_form.bpmn", "triage"),
    ("script_syntax.bpmn", "broken_script"),
    ("script_import.bpmn", "sneaky_script"),
    ("unknown_service.bpmn", "notify"),
    ("many_problems.bpmn", "f_b"),
    ("bad_hit_policy.dmn", "pick_table"),
]


@pytest.mark.parametrize(("name", "element"), OLD_CORPUS)
def test_runtime_corpus_is_refused_over_http(client, keys, name, element):
    before = stored()
    r = upload(client, keys["process_owner"], (DATA / "bpmn" / name).read_bytes(), name)
    assert r.status_code == 422, r.text
    if element:
        assert element in {f["element_id"] for f in r.json()["fields"]}
    assert stored() == before


def test_malformed_xml_reports_line_and_column(client, keys):
    r = upload(client, keys["process_owner"], (DATA / "bpmn" / "malformed.bpmn").read_bytes())
    [field] = r.json()["fields"]
    assert field["line"] == 5 and field["column"]


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ((DATA / "bpmn" / "xxe.bpmn").read_bytes(), 400, "UnsafeXml"),
        ((DATA / "bpmn" / "billion_laughs.bpmn").read_bytes(), 400, "UnsafeXml"),
        ((CORPUS / "latin1.bpmn").read_bytes(), 422, "DefinitionInvalid"),
        ((CORPUS / "not_utf8.bpmn").read_bytes(), 422, "DefinitionInvalid"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), 422, "DefinitionInvalid"),
        (b"\x1f\x8b\x08\x00" + bytes(200), 422, "DefinitionInvalid"),
        (b"   \n ", 422, "InvalidInput"),
        (b'{"not": "xml"}', 422, "DefinitionInvalid"),
        (b"<html><body>hi</body></html>", 422, "DefinitionInvalid"),
    ],
)
def test_hostile_and_foreign_files_are_4xx_and_store_nothing(client, keys, data, status, error):
    before = stored()
    r = upload(client, keys["process_owner"], data)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
    assert stored() == before


def test_oversized_file_is_413(client, keys):
    data = (CORPUS / "modeler_collaboration.bpmn").read_bytes()
    padding = b"<!-- " + b"x" * (3 * 1024 * 1024) + b" -->"
    r = upload(
        client,
        keys["process_owner"],
        data.replace(b"<bpmn:collaboration", padding + b"<bpmn:collaboration", 1),
    )
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"


def test_upload_without_a_file_part(client, keys):
    r = client.post("/api/v1/processes", data={"other": "x"}, headers=auth(keys["process_owner"]))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "file"
    r = client.post("/api/v1/processes", json={"file": "x"}, headers=auth(keys["process_owner"]))
    assert r.status_code == 422


def test_a_bpmn_cannot_become_a_version_of_a_dmn_key(client, keys):
    data = (
        (CORPUS / "modeler_collaboration.bpmn").read_bytes().replace(b"Process_partner_complaint", b"routing")
    )
    before = stored()
    r = upload(client, keys["process_owner"], data)
    assert r.status_code == 409 and r.json()["error"] == "KindMismatch"
    assert "'routing' is a DMN definition" in r.json()["detail"]
    assert stored() == before


def test_routing_table_swap_applies_to_signals_routed_after_the_deploy(client, keys):
    owner = auth(keys["process_owner"])
    early = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"])).json()["id"]
    drain()
    table = (SHIPPED / "routing.dmn").read_bytes()
    swapped = table.replace(b'hitPolicy="FIRST"', b'hitPolicy="FIRST" label="v2"', 1)
    assert swapped != table
    r = upload(client, keys["process_owner"], swapped, "routing.dmn")
    assert r.status_code == 201 and r.json()["version"] == 2
    pending = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"])).json()[
        "id"
    ]
    assert client.post("/api/v1/processes/routing/versions/2/deploy", headers=owner).status_code == 200
    drain()
    late = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"])).json()["id"]
    drain()
    rule = {
        s: client.get(f"/api/v1/signals/{s}", headers=auth(keys["csr"])).json()["routing"]["rule"]
        for s in (early, pending, late)
    }
    assert rule[early].startswith("routing v1")
    assert rule[pending].startswith("routing v2") and rule[late].startswith("routing v2")


def _case(client, keys) -> dict:
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    sig = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    return client.get(f"/api/v1/cases/{sig['case_id']}", headers=auth(keys["csr"])).json()


def _work_to_resolution(client, keys, case) -> dict:
    csr = auth(keys["csr"])
    client.post(f"/api/v1/cases/{case['id']}/claim", headers=csr)
    steps = [
        {"action": "respond", "priority": "high", "topic": "delivery"},
        {"reply": "Sorry! Refund sent.", "then": "resolve"},
        {"resolution_code": "refunded"},
    ]
    for data in steps:
        case = client.get(f"/api/v1/cases/{case['id']}", headers=csr).json()
        r = client.post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete", json={"data": data}, headers=csr)
        assert r.status_code == 200, r.text
    return client.get(f"/api/v1/cases/{case['id']}", headers=csr).json()


def test_version_numbers_out_of_range_are_refused_not_crashed(client, keys):
    po = auth(keys["process_owner"])
    for path in (
        "/api/v1/processes/reactive_case/versions/99999999999999999999/xml",
        "/api/v1/processes/reactive_case/versions/0",
        "/api/v1/processes/reactive_case/versions/1/diff?against=-5",
    ):
        r = client.get(path, headers=po)
        assert r.status_code == 422 and r.json()["error"] == "ValidationFailed", path
    r = client.post(
        "/api/v1/processes/reactive_case/versions/-46615474258063882465809793024/deploy", headers=po
    )
    assert r.status_code == 422
