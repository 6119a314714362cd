"""The long tail over HTTP, end to end: a replayed spike opens one investigation with the topic's
cases under it; the investigation answers them all with one canned reply (one reply each,
delivered once to a real receiver on 127.0.0.1) and waits until they are resolved; or it asks for
a change to reactive_case, which is replay-tested, approved by a process owner and deployed
through the processes API; running instances move to a new version in bulk where they can."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.cases.models import Case
from engine.processes.models import ProcessInstanceRecord
from engine.tasks.models import Task
from engine.timers import service as timers
from engine.timers.models import Timer
from tests.delivery.receiver import receiver
from tests.helpers import (
    auth,
    count,
    deliver,
    detached_case,
    drain,
    signal_body,
    spike_investigation,
    without_triage,
)

REACTIVE = (Path(__file__).parents[2] / "processes" / "reactive_case.bpmn").read_bytes()


def _investigation(client, headers):  # type: ignore[no-untyped-def]
    (inv,) = client.get("/api/v1/cases", params={"kind": "investigation"}, headers=headers).json()["items"]
    return client.get(f"/api/v1/cases/{inv['id']}", headers=headers).json()


def _step(client, headers, case_id, name, data):  # type: ignore[no-untyped-def]
    case = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    (task,) = [t for t in case["tasks"] if t["name"] == name]
    return client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)


def _to_decision(client, sup, case_id, decision):  # type: ignore[no-untyped-def]
    steps = (
        ("define_cause", {"root_cause_category": "logistics", "cause_description": "carrier lost a depot"}),
        ("investigate", {"findings": "one depot's parcels never left"}),
        ("decide", {"decision": decision}),
    )
    for name, data in steps:
        r = _step(client, sup, case_id, name, data)
        assert r.status_code == 200, r.text


def _children(client, headers, parent_id):  # type: ignore[no-untyped-def]
    found, cursor = [], None
    while True:
        params = {"parent_id": parent_id, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/cases", params=params, headers=headers).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_communicate_answers_every_linked_case_once_and_the_investigation_goes_on(
    client, keys, settings_env, replayed
):
    sup = auth(keys["supervisor"])
    inv = _investigation(client, sup)
    assert inv["sla"]["policy"] == "investigation"  # its own policy: the cause within hours
    linked = _children(client, sup, inv["id"])
    assert len(linked) == inv["children"]["total"] >= 10
    template = client.post(
        "/api/v1/canned-replies",
        json={
            "name": "Depot delay",
            "body": "Hi {{customer.handle|there}}, {{order_id|your parcel}} is late: {{case.topic}}.",
        },
        headers=sup,
    ).json()
    _to_decision(client, sup, inv["id"], "communicate")
    bad = _step(
        client,
        sup,
        inv["id"],
        "communicate",
        {"canned_reply_id": template["id"], "communicate_deadline": "soon"},
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "communicate_deadline"
    missing = _step(client, sup, inv["id"], "communicate", {"canned_reply_id": "nope"})
    assert missing.status_code == 404
    with receiver() as rx:
        settings_env(reply_endpoint=rx.url)
        done = _step(
            client,
            sup,
            inv["id"],
            "communicate",
            {
                "canned_reply_id": template["id"],
                "resolution_code": "depot_delay",
                "communicate_deadline": "P2D",
            },
        )
        assert done.status_code == 200, done.text
        ids = {c["id"] for c in linked}
        deliver(lambda: len(rx.requests) >= len(ids), seconds=300)  # ~880 replies, one per round trip
        deliver(seconds=60)  # another round finds nothing more to send
        sent = [r.json() for r in rx.requests]
    assert sorted(s["case_id"] for s in sent) == sorted(ids), "one reply each, delivered once"
    assert all(s["text"].endswith("is late: delivery.") for s in sent)
    for child in _children(client, sup, inv["id"]):
        full = client.get(f"/api/v1/cases/{child['id']}", headers=sup).json()
        assert full["status"] == "resolved" and full["resolution"]["code"] == "depot_delay"
        assert full["resolution"]["parent_id"] == inv["id"]
    after = client.get(f"/api/v1/cases/{inv['id']}", headers=sup).json()
    assert after["children"]["settled"] == after["children"]["total"] == len(ids)
    assert [t["name"] for t in after["tasks"]] == ["close"], "every linked case resolved: the wait is over"
    timeline = client.get(f"/api/v1/cases/{inv['id']}/timeline", headers=sup).json()["items"]
    (said,) = [e for e in timeline if e["type"] == "investigation.communicated"]
    assert said["data"]["replies"] == len(ids) and said["data"]["resolution_code"] == "depot_delay"
    r = _step(client, sup, inv["id"], "close", {"lessons_learned": "watch the depot's scans"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert r.json()["resolution"]["code"] == "communicate"


@pytest.fixture
def small(client, keys):  # type: ignore[no-untyped-def]
    """Three delivery complaints posted over HTTP, then a spike on the topic as detection
    records it: an investigation with the three under it (a few cases, so timing is easy)."""
    for n in range(3):
        body = signal_body()
        body["text"] = f"@acme my order {n} never arrived, where is it"
        body["author"] = {"handle": f"@small{n}", "followers": 10}
        assert client.post("/api/v1/signals", json=body, headers=auth(keys["integration"])).status_code == 202
    drain()
    return spike_investigation("delivery")


def _sorry(client, sup):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/canned-replies", json={"name": "Sorry", "body": "Sorry about {{case.topic}}."}, headers=sup
    ).json()


def test_the_communicate_step_waits_for_the_cases_left_to_their_csr_until_its_deadline(client, keys, small):
    """A linked case a CSR holds is left to them: the step waits for it (the count shows it),
    and its deadline, a BPMN timer, lets the investigation go on without it."""
    sup, csr = auth(keys["supervisor"]), auth(keys["csr"])
    linked = _children(client, sup, small)
    assert len(linked) == 3
    held = linked[0]["id"]
    assert client.post(f"/api/v1/cases/{held}/claim", headers=csr).status_code == 200
    _to_decision(client, sup, small, "communicate")
    began = time.monotonic()
    r = _step(
        client,
        sup,
        small,
        "communicate",
        {"canned_reply_id": _sorry(client, sup)["id"], "communicate_deadline": "PT3S"},
    )
    assert r.status_code == 200, r.text
    waiting = client.get(f"/api/v1/cases/{small}", headers=sup).json()
    assert waiting["tasks"] == [] and waiting["children"] == {
        "total": 3,
        "by_status": {"open": 1, "waiting": 0, "resolved": 2, "closed": 0},
        "settled": 2,
    }
    timeline = client.get(f"/api/v1/cases/{small}/timeline", headers=sup).json()["items"]
    (said,) = [e for e in timeline if e["type"] == "investigation.communicated"]
    assert said["data"]["replies"] == 2 and said["data"]["left"] == 1
    assert said["data"]["left_cases"] == [{"case_id": held, "error": "CaseHeld", "detail": "held by csr"}]
    assert client.get(f"/api/v1/cases/{held}", headers=sup).json()["status"] == "open"
    timers.run_due(owner="test")
    if time.monotonic() - began < 2.5:
        assert client.get(f"/api/v1/cases/{small}", headers=sup).json()["tasks"] == [], "not yet due"
    for _ in range(200):  # the BPMN timer reads the wall clock: fire due timers until it has
        timers.run_due(owner="test")
        after = client.get(f"/api/v1/cases/{small}", headers=sup).json()
        if after["tasks"] or time.monotonic() - began > 15:
            break
        time.sleep(0.1)
    assert [t["name"] for t in after["tasks"]] == ["close"], "the deadline passed"
    assert time.monotonic() - began >= 3


def test_the_last_linked_case_resolved_by_its_csr_ends_the_wait(client, keys, small):
    sup, csr = auth(keys["supervisor"]), auth(keys["csr"])
    held = _children(client, sup, small)[0]["id"]
    client.post(f"/api/v1/cases/{held}/claim", headers=csr)
    _to_decision(client, sup, small, "communicate")
    _step(client, sup, small, "communicate", {"canned_reply_id": _sorry(client, sup)["id"]})
    assert client.get(f"/api/v1/cases/{small}", headers=sup).json()["tasks"] == []
    for name, data in (
        ("triage", {"action": "respond"}),
        ("respond", {"reply": "Found it.", "then": "resolve"}),
    ):
        assert _step(client, csr, held, name, data).status_code == 200
    if client.get(f"/api/v1/cases/{held}", headers=csr).json()["status"] != "resolved":
        assert _step(client, csr, held, "resolve", {"resolution_code": "answered"}).status_code == 200
    assert client.get(f"/api/v1/cases/{held}", headers=csr).json()["status"] == "resolved"
    after = client.get(f"/api/v1/cases/{small}", headers=sup).json()
    assert after["children"]["settled"] == after["children"]["total"] == 3
    assert [t["name"] for t in after["tasks"]] == ["close"]


def test_an_investigation_gets_its_own_sla_policy(client, keys, small):
    from engine.sla.policies import INVESTIGATION_TARGETS

    sup = auth(keys["supervisor"])
    inv = client.get(f"/api/v1/cases/{small}", headers=sup).json()
    assert inv["sla"]["policy"] == "investigation" and inv["priority"] == "high"
    opened = datetime.fromisoformat(inv["created_at"])
    due = datetime.fromisoformat(inv["sla"]["resolution_due"])
    assert INVESTIGATION_TARGETS["high"]["resolution"] == "P3D" and abs(
        due - opened - timedelta(days=3)
    ) < timedelta(minutes=1)
    case = detached_case(small)
    stage = case.sla_stages["stage:define_cause"]
    # the stage clock starts when define_cause opens, a moment after the case
    assert abs(datetime.fromisoformat(stage["due"]) - case.created_at - timedelta(hours=4)) < timedelta(
        minutes=1
    )
    policies = client.get("/api/v1/sla/policies", headers=sup).json()["items"]
    assert "investigation" in [p["name"] for p in policies]


def _upload(client, key, xml: bytes) -> int:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/processes", files={"file": ("p.bpmn", xml, "application/xml")}, headers=auth(key)
    )
    assert r.status_code in (200, 201), r.text
    return int(r.json()["version"])


def test_a_change_request_deploys_a_new_reactive_case_after_a_replay_test(client, keys, replayed):
    sup, owner = auth(keys["supervisor"]), auth(keys["process_owner"])
    inv = _investigation(client, sup)
    linked = _children(client, sup, inv["id"])
    _to_decision(client, sup, inv["id"], "change_process")
    bad = _step(client, sup, inv["id"], "request_change", {"process_key": "nope", "change_description": "x"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "process_key"
    r = _step(
        client,
        sup,
        inv["id"],
        "request_change",
        {"process_key": "reactive_case", "change_description": "triage names the depot"},
    )
    assert r.status_code == 200, r.text
    (cr,) = client.get(f"/api/v1/cases/{inv['id']}/change-requests", headers=sup).json()["items"]
    assert cr["status"] == "requested" and cr["process_key"] == "reactive_case"
    assert client.get(f"/api/v1/cases/{inv['id']}", headers=sup).json()["stage"]["name"] == "change_deployed"

    v2 = _upload(
        client, keys["process_owner"], REACTIVE.replace(b'name="Triage"', b'name="Triage the depot"')
    )
    early = client.post(f"/api/v1/change-requests/{cr['id']}/approve", json={"version": v2}, headers=owner)
    assert early.status_code == 409 and "replay-test" in early.json()["detail"]
    before = (count(Case), count(ProcessInstanceRecord), count(Task), count(Timer))
    tested = client.post(f"/api/v1/change-requests/{cr['id']}/replay-test", json={"version": v2}, headers=sup)
    assert tested.status_code == 200, tested.text
    assert (count(Case), count(ProcessInstanceRecord), count(Task), count(Timer)) == before, "a dry run"
    report = tested.json()["test_report"]
    replayed_n = min(len(linked), 200)  # the oldest 200 linked signals are replayed
    assert report["version"] == v2 and report["deployed_version"] == 1
    assert report["signals"] == replayed_n and report["linked"] == len(linked)
    for side in ("candidate", "deployed"):
        assert report["summary"][side]["opens"] == replayed_n
        assert report["summary"][side]["waits_at"] == {"triage": replayed_n}
        sla = report["summary"][side]["sla"]["first_response"]
        assert sum(sla.values()) == replayed_n
    row = report["cases"][0]
    assert (
        row["candidate"]["waits_at_title"] == "Triage the depot"
        and row["deployed"]["waits_at_title"] == "Triage"
    )
    assert row["candidate"]["due_in"]["first_response"] > 0 and report["summary"]["differing"] == replayed_n

    assert (
        client.post(
            f"/api/v1/change-requests/{cr['id']}/approve", json={"version": v2}, headers=sup
        ).status_code
        == 403
    )
    approved = client.post(f"/api/v1/change-requests/{cr['id']}/approve", json={"version": v2}, headers=owner)
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    deployed = client.post(f"/api/v1/processes/reactive_case/versions/{v2}/deploy", headers=owner)
    assert deployed.status_code == 200, deployed.text
    done = client.get(f"/api/v1/change-requests/{cr['id']}", headers=sup).json()
    assert done["status"] == "deployed" and done["version"] == v2 and done["deployed_at"]
    after = client.get(f"/api/v1/cases/{inv['id']}", headers=sup).json()
    assert [t["name"] for t in after["tasks"]] == ["close"]
    r = _step(client, sup, inv["id"], "close", {"lessons_learned": "depots in triage"})
    assert r.json()["status"] == "resolved" and r.json()["resolution"]["code"] == "change_process"
    kinds = [
        e["type"] for e in client.get(f"/api/v1/cases/{inv['id']}/timeline", headers=sup).json()["items"]
    ]
    for kind in (
        "change_request.opened",
        "change_request.tested",
        "change_request.approved",
        "change_request.deployed",
    ):
        assert kinds.count(kind) == 1, kind
    # the new version is what new cases start on
    posted = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"])).json()
    drain()
    newest = client.get(f"/api/v1/signals/{posted['id']}", headers=sup).json()["case_id"]
    assert client.get(f"/api/v1/cases/{newest}", headers=sup).json()["process"]["version"] == v2


def test_bulk_migration_dry_run_then_apply(client, keys):
    owner, csr = auth(keys["process_owner"]), auth(keys["csr"])
    ids = []
    for n in range(3):
        body = signal_body()
        body["text"] = f"My order {n} never arrived, where is it?"
        r = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
        drain()
        ids.append(client.get(f"/api/v1/signals/{r.json()['id']}", headers=csr).json()["case_id"])
    r = _step(client, csr, ids[0], "triage", {"action": "respond"})  # this one waits at respond
    assert r.status_code == 200, r.text
    kept = _upload(client, keys["process_owner"], REACTIVE.replace(b'name="Respond"', b'name="Answer"'))
    # triage's id changes in place: SpiffWorkflow's diff aligns it by its place in the flow
    renamed = _upload(
        client,
        keys["process_owner"],
        REACTIVE.replace(b'"triage"', b'"assess"').replace(b'"triage_di"', b'"assess_di"'),
    )
    gone = _upload(client, keys["process_owner"], without_triage(REACTIVE))

    url = "/api/v1/processes/reactive_case/migrations"
    aligned = client.post(url, json={"from_version": 1, "to_version": renamed}, headers=owner).json()
    assert aligned["counts"] == {"movable": 3, "blocked": 0}, aligned
    dry = client.post(url, json={"from_version": 1, "to_version": gone}, headers=owner).json()
    assert dry["dry_run"] and dry["counts"] == {"movable": 0, "blocked": 3}, dry
    reasons = {b["case_id"]: b["reasons"] for b in dry["blocked"]}
    assert reasons[ids[1]] == [
        {
            "element_id": "triage",
            "reason": "waits_at_removed",
            "detail": "waits at an element this version does not have",
        }
    ]
    assert [r["reason"] for r in reasons[ids[0]]] == ["ran_removed"], "its triage is done, but in its history"
    versions = {c: client.get(f"/api/v1/cases/{c}", headers=csr).json()["process"]["version"] for c in ids}
    assert set(versions.values()) == {1}, "a dry run moves nothing"

    assert (
        client.post(
            url, json={"from_version": 1, "to_version": kept, "dry_run": False}, headers=csr
        ).status_code
        == 403
    )
    assert client.post(url, json={"from_version": 1, "to_version": 1}, headers=owner).status_code == 422
    assert client.post(url, json={"from_version": 1, "to_version": 99}, headers=owner).status_code == 404
    applied = client.post(url, json={"from_version": 1, "to_version": kept, "dry_run": False}, headers=owner)
    assert applied.status_code == 200, applied.text
    assert applied.json()["counts"] == {"movable": 3, "blocked": 0}
    for case_id in ids:
        case = client.get(f"/api/v1/cases/{case_id}", headers=csr).json()
        assert case["process"]["version"] == kept
        kinds = [
            e["type"] for e in client.get(f"/api/v1/cases/{case_id}/timeline", headers=csr).json()["items"]
        ]
        assert "process.instance_migrated" in kinds
    # the moved instances run on: the one at respond answers on the new version's element
    r = _step(client, csr, ids[0], "respond", {"reply": "On its way."})
    assert r.status_code == 200, r.text
    r = _step(client, csr, ids[1], "triage", {"action": "respond"})
    assert r.status_code == 200 and [t["name"] for t in r.json()["tasks"]] == ["respond"]
