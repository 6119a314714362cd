"""Participants from departments on an investigation, subtasks assigned to them, and the
investigate step refused while one is open; bad inputs write nothing."""

from __future__ import annotations

import pytest

from engine.cases.models import CaseParticipant, Subtask
from engine.events.models import ActivityEvent
from tests.helpers import auth, count, spike_investigation


@pytest.fixture
def investigation(client, keys) -> str:  # type: ignore[no-untyped-def]
    """An investigation opened by a spike on "delivery", its cause defined: at ``investigate``."""
    case_id = spike_investigation("delivery")
    r = _step(client, auth(keys["supervisor"]), case_id, "define_cause", CAUSE)
    assert r.status_code == 200, r.text
    return case_id


CAUSE = {"root_cause_category": "logistics", "cause_description": "a depot's parcels never left"}
FINDINGS = {"findings": "one depot, since Monday"}


def _step(client, headers, case_id, name, data):  # type: ignore[no-untyped-def]
    case = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    (task,) = [t for t in case["tasks"] if t["name"] == name]
    return client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)


def _timeline(client, headers, case_id):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/cases/{case_id}/timeline", headers=headers).json()["items"]


def test_two_departments_work_their_subtasks_and_investigate_waits_for_them(client, keys, investigation):
    sup, csr, owner = auth(keys["supervisor"]), auth(keys["csr"]), auth(keys["process_owner"])
    inv = investigation
    for user, department, role in (("csr", "support", "lead"), ("process_owner", "logistics", None)):
        body = {"user": user, "department": department, **({"role": role} if role else {})}
        r = client.post(f"/api/v1/cases/{inv}/participants", json=body, headers=sup)
        assert r.status_code == 201, r.text
        assert r.json()["user"] == user and r.json()["added_by"] == "supervisor"
    listed = client.get(f"/api/v1/cases/{inv}", headers=sup).json()["participants"]
    assert [(p["user"], p["department"], p["role"]) for p in listed] == [
        ("csr", "support", "lead"),
        ("process_owner", "logistics", None),
    ]

    made = {}
    for title, assignee in (
        ("Ask the affected customers", "csr"),
        ("Check the depot's scans", "process_owner"),
    ):
        r = client.post(
            f"/api/v1/cases/{inv}/subtasks",
            json={"title": title, "assignee": assignee, "due_at": "2030-01-02T10:00:00Z"},
            headers=sup,
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "open" and r.json()["created_by"] == "supervisor"
        made[assignee] = r.json()["id"]
    mine = client.get("/api/v1/subtasks", params={"assignee": "me", "status": "open"}, headers=owner).json()
    assert [s["id"] for s in mine["items"]] == [made["process_owner"]] and mine["next_cursor"] is None

    # a participant of another role comments (and @mentions) on the case
    r = client.post(f"/api/v1/cases/{inv}/comments", json={"body": "@csr the depot is Leeds"}, headers=owner)
    assert r.status_code == 201, r.text
    assert r.json()["mentions"] == ["csr"]

    r = client.post(
        f"/api/v1/subtasks/{made['process_owner']}:complete", json={"note": "scans stop"}, headers=owner
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["completed_by"] == "process_owner"

    refused = _step(client, sup, inv, "investigate", FINDINGS)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "SubtasksOpen" and "1 open subtask" in refused.json()["detail"]
    assert [t["name"] for t in client.get(f"/api/v1/cases/{inv}", headers=sup).json()["tasks"]] == [
        "investigate"
    ]

    r = client.post(f"/api/v1/subtasks/{made['csr']}:complete", json={}, headers=csr)
    assert r.status_code == 200, r.text
    assert (
        client.get("/api/v1/subtasks", params={"assignee": "me", "status": "open"}, headers=csr).json()[
            "items"
        ]
        == []
    )
    done = client.get(f"/api/v1/cases/{inv}/subtasks", params={"status": "done"}, headers=csr).json()["items"]
    assert {s["id"] for s in done} == set(made.values())

    accepted = _step(client, sup, inv, "investigate", FINDINGS)
    assert accepted.status_code == 200, accepted.text
    assert [t["name"] for t in accepted.json()["tasks"]] == ["decide"]

    events = [
        e for e in _timeline(client, sup, inv) if e["type"].startswith(("case.participant", "subtask."))
    ]
    assert [(e["type"], e["actor"]) for e in events] == [
        ("case.participant_added", "supervisor"),
        ("case.participant_added", "supervisor"),
        ("subtask.created", "supervisor"),
        ("subtask.created", "supervisor"),
        ("subtask.completed", "process_owner"),
        ("subtask.completed", "csr"),
    ]
    assert events[0]["data"] == {"user": "csr", "department": "support", "role": "lead"}
    assert (
        events[4]["data"]["note"] == "scans stop" and events[4]["data"]["subtask_id"] == made["process_owner"]
    )

    r = client.delete(f"/api/v1/cases/{inv}/participants/process_owner", headers=sup)
    assert r.status_code == 204, r.text
    assert [p["user"] for p in client.get(f"/api/v1/cases/{inv}", headers=sup).json()["participants"]] == [
        "csr"
    ]
    assert _timeline(client, sup, inv)[-1]["type"] == "case.participant_removed"


def test_bad_inputs_are_refused_and_write_nothing(client, keys, investigation):
    sup, csr, csr2 = auth(keys["supervisor"]), auth(keys["csr"]), auth(keys["csr2"])
    inv = investigation
    url = f"/api/v1/cases/{inv}/participants"
    before = count(ActivityEvent)

    r = client.post(url, json={"user": "nobody", "department": "logistics"}, headers=sup)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "user", r.text
    r = client.post(url, json={"user": "integration", "department": "logistics"}, headers=sup)
    assert r.status_code == 422, r.text  # a system key is no person
    r = client.post(url, json={"user": "csr", "department": "   "}, headers=sup)
    assert r.status_code == 422, r.text
    r = client.post("/api/v1/cases/nope/participants", json={"user": "csr", "department": "x"}, headers=sup)
    assert r.status_code == 404, r.text
    r = client.post(url, json={"user": "csr", "department": "support"}, headers=csr)
    assert r.status_code == 403, r.text  # a CSR does not add participants
    assert count(CaseParticipant) == 0 and count(ActivityEvent) == before

    assert client.post(url, json={"user": "csr", "department": "support"}, headers=sup).status_code == 201
    r = client.post(url, json={"user": "csr", "department": "billing"}, headers=sup)
    assert r.status_code == 409 and r.json()["error"] == "AlreadyParticipant", r.text
    assert count(CaseParticipant) == 1
    before = count(ActivityEvent)

    subtasks = f"/api/v1/cases/{inv}/subtasks"
    r = client.post(subtasks, json={"title": "look", "assignee": "csr2"}, headers=sup)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "assignee", r.text
    r = client.post(subtasks, json={"title": "look", "assignee": "csr"}, headers=csr)
    assert r.status_code == 403, r.text  # a participant who does not hold the case
    r = client.post(subtasks, json={"title": "  ", "assignee": "csr"}, headers=sup)
    assert r.status_code == 422, r.text
    r = client.post(subtasks, json={"title": "look", "assignee": "csr", "due_at": "tomorrow"}, headers=sup)
    assert r.status_code == 422, r.text
    r = client.get("/api/v1/subtasks", params={"assignee": "csr"}, headers=csr2)
    assert r.status_code == 403, r.text
    assert count(Subtask) == 0 and count(ActivityEvent) == before

    sub = client.post(subtasks, json={"title": "look", "assignee": "csr"}, headers=sup).json()["id"]
    before = count(ActivityEvent)
    r = client.post(f"/api/v1/subtasks/{sub}:complete", json={}, headers=csr2)
    assert r.status_code == 403, r.text  # not theirs
    r = client.post(f"/api/v1/subtasks/{sub}:complete", json={}, headers=auth(keys["integration"]))
    assert r.status_code == 403, r.text
    r = client.post("/api/v1/subtasks/nope:complete", json={}, headers=sup)
    assert r.status_code == 404, r.text
    r = client.delete(f"{url}/csr", headers=sup)
    assert r.status_code == 409, r.text  # their subtask is open
    assert count(ActivityEvent) == before
    assert client.post(f"/api/v1/subtasks/{sub}:complete", json={}, headers=csr).status_code == 200
    before = count(ActivityEvent)
    r = client.post(f"/api/v1/subtasks/{sub}:complete", json={"note": "again"}, headers=sup)
    assert r.status_code == 409 and r.json()["error"] == "SubtaskDone", r.text
    assert count(ActivityEvent) == before
    r = client.delete(f"{url}/csr2", headers=sup)
    assert r.status_code == 404, r.text

    # a non-participant of a role that cannot comment stays refused
    r = client.post(f"/api/v1/cases/{inv}/comments", json={"body": "hi"}, headers=auth(keys["process_owner"]))
    assert r.status_code == 403, r.text
