"""A draft version replayed against a process's recent history, without a change request: the
opening signals of its most recent cases routed today and opened under the draft and under the
deployed version in rolled-back savepoints; nothing stays, and the report says what differs."""

from __future__ import annotations

from pathlib import Path

from engine.cases.models import Case
from engine.events.models import ActivityEvent
from engine.processes.models import ProcessInstanceRecord
from engine.tasks.models import Task
from engine.timers.models import Timer
from tests.helpers import auth, count, drain, signal_body, spike_investigation

REACTIVE = (Path(__file__).resolve().parents[2] / "processes" / "reactive_case.bpmn").read_bytes()
URL = "/api/v1/processes/reactive_case/versions/{}/replay-test"


def _complaints(client, keys, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        body = signal_body()
        body["text"] = f"@acme my order {i} never arrived, where is it"
        r = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
        assert r.status_code == 202, r.text
        drain()
        signal = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
        ids.append(signal["case_id"])
    return ids


def _draft(client, keys, xml: bytes) -> int:  # type: ignore[no-untyped-def]
    files = {"file": ("p.bpmn", xml, "application/xml")}
    r = client.post("/api/v1/processes", files=files, headers=auth(keys["process_owner"]))
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


def test_a_draft_replayed_against_recent_cases_reports_what_differs_and_keeps_nothing(client, keys):
    cases = _complaints(client, keys, 3)
    v2 = _draft(client, keys, REACTIVE.replace(b'name="Triage"', b'name="Triage the depot"'))
    before = (count(Case), count(ProcessInstanceRecord), count(Task), count(Timer), count(ActivityEvent))
    r = client.post(URL.format(v2), json={"limit": 2}, headers=auth(keys["process_owner"]))
    assert r.status_code == 200, r.text
    after = (count(Case), count(ProcessInstanceRecord), count(Task), count(Timer), count(ActivityEvent))
    assert after == before, "a dry run: no case, instance, task, timer or event stays"
    report = r.json()
    assert (report["process_key"], report["version"], report["deployed_version"]) == ("reactive_case", v2, 1)
    assert report["history"] == 3 and report["signals"] == 2
    assert [row["case_id"] for row in report["cases"]] == cases[1:], "the two most recent, oldest first"
    for row in report["cases"]:
        assert row["routed"] == {"action": "open_case", "process_key": "reactive_case"}
        assert row["candidate"]["waits_at_title"] == "Triage the depot"
        assert row["deployed"]["waits_at_title"] == "Triage" and row["differs"] is True
    assert report["summary"]["differing"] == 2
    assert report["summary"]["candidate"]["waits_at"] == {"triage": 2}


def test_the_deployed_version_replayed_differs_nowhere_and_the_limit_defaults(client, keys):
    _complaints(client, keys, 2)
    r = client.post(URL.format(1), headers=auth(keys["supervisor"]))
    assert r.status_code == 200, r.text
    assert r.json()["signals"] == 2 and r.json()["summary"]["differing"] == 0


def test_a_history_replay_refuses_what_it_cannot_run(client, keys):
    owner = auth(keys["process_owner"])
    assert client.post(URL.format(99), headers=owner).status_code == 404
    missing = client.post("/api/v1/processes/nope/versions/1/replay-test", headers=owner)
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    big = client.post(URL.format(1), json={"limit": 201}, headers=owner)
    assert big.status_code == 422
    assert client.post(URL.format(1), headers=auth(keys["csr"])).status_code == 403
    empty = client.post(URL.format(1), headers=owner).json()
    assert empty["signals"] == 0 and empty["history"] == 0 and empty["cases"] == []


def _step(client, headers, case_id, name, data):  # type: ignore[no-untyped-def]
    (task,) = [
        t
        for t in client.get(f"/api/v1/cases/{case_id}", headers=headers).json()["tasks"]
        if t["name"] == name
    ]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)
    assert r.status_code == 200, r.text


def test_the_modeler_page_offers_the_open_change_requests_of_the_process_to_replay(client, keys):
    _complaints(client, keys, 2)
    investigation = spike_investigation("delivery")
    sup = auth(keys["supervisor"])
    for name, data in (
        ("define_cause", {"root_cause_category": "logistics", "cause_description": "a depot"}),
        ("investigate", {"findings": "parcels stuck"}),
        ("decide", {"decision": "change_process"}),
        ("request_change", {"process_key": "reactive_case", "change_description": "name the depot"}),
    ):
        _step(client, sup, investigation, name, data)
    (cr,) = client.get(f"/api/v1/cases/{investigation}/change-requests", headers=sup).json()["items"]
    assert (
        client.post("/signin", data={"key": keys["process_owner"]}, follow_redirects=False).status_code == 303
    )
    page = client.get("/workbench/processes/reactive_case").text
    assert f'<option value="{cr["id"]}">change request {cr["id"][-8:]} (requested)' in page
    assert '<option value="1" data-live="2" selected>v1 · 2 live</option>' in page
