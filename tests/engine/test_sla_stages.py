"""SLAs on a stage: a clock from when a named user task opens for the case until it ends."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.cases.models import Case
from engine.db import unit_of_work
from engine.sla import policies
from engine.tasks.models import Task
from engine.timers import service as timers
from engine.timers.models import Timer
from tests.engine.test_timers import _events, _fire_until, _open_case
from tests.helpers import auth, detached_case, put_default_policy


def _stage_sla(stages: dict[str, Any], warning_at: float = 0.5) -> None:
    """Slow case clocks, so only the stages fire within a test."""
    put_default_policy(
        {"first_response": "PT1H", "next_response": "PT1H", "resolution": "P1D", **stages}, warning_at
    )


def _case(case_id: str) -> Case:
    return detached_case(case_id)


def _stage_timers(case_id: str) -> list[Timer]:
    with unit_of_work() as s:
        rows = list(s.scalars(select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at)))
        for row in rows:
            s.expunge(row)
    return [t for t in rows if (t.data or {}).get("target", "").startswith("stage:")]


def _triage(case_id: str) -> Task:
    with unit_of_work() as s:
        task = s.scalar(select(Task).where(Task.case_id == case_id, Task.name == "triage"))
        s.expunge(task)
        return task


def test_a_stage_on_triage_warns_then_breaches_on_time_while_triage_is_open(client, keys):
    _stage_sla(
        {"stage:triage": {"target": "PT1S", "deadline": {"urgency": 5, "actions": ["message", "notify"]}}}
    )
    case_id = _open_case(client, keys)
    triage = _triage(case_id)
    stage = _case(case_id).sla_stages["stage:triage"]
    assert stage["task"] == triage.id
    since, due = datetime.fromisoformat(stage["since"]), datetime.fromisoformat(stage["due"])
    assert due - since == timedelta(seconds=1)
    assert since >= triage.created_at - timedelta(seconds=1)
    assert _case(case_id).sla_target == "stage:triage"  # the nearest running target

    _fire_until(lambda: bool(_events(case_id, "sla.breached")))
    warned, breached = _events(case_id, "sla.warning"), _events(case_id, "sla.breached")
    assert [e.data["target"] for e in warned] == ["stage:triage"]
    assert [e.data for e in breached] == [{"target": "stage:triage", "due_at": due.isoformat()}]
    fired = {t.kind: t for t in _stage_timers(case_id) if t.status == "fired"}
    assert fired["sla.warning"].due_at == since + timedelta(seconds=0.5)
    assert fired["sla.breach"].due_at == due
    assert all(t.fired_at >= t.due_at for t in fired.values())
    case = _case(case_id)
    assert case.sla_state == "breached" and case.urgency == 5
    # the deadline's message carried the stage: the shipped process escalated the case
    assert len(_events(case_id, "case.escalated")) == 1
    notified = _events(case_id, "sla.notified")
    assert [(e.data["level"], e.data["target"]) for e in notified] == [("deadline", "stage:triage")]


def test_completing_triage_before_its_stage_deadline_stops_the_clock(client, keys):
    _stage_sla({"stage:triage": "PT2S"})
    case_id = _open_case(client, keys)
    triage = _triage(case_id)
    assert [t.kind for t in _stage_timers(case_id) if t.status == "pending"] == ["sla.warning", "sla.breach"]
    done = client.post(
        f"/api/v1/tasks/{triage.id}/complete", json={"data": {"action": "respond"}}, headers=auth(keys["csr"])
    )
    assert done.status_code == 200, done.text
    case = _case(case_id)
    assert case.sla_stages is None and case.sla_target == "first_response"
    assert [t.status for t in _stage_timers(case_id)] == ["dropped", "dropped"]
    time.sleep(2.2)
    for _ in range(3):
        timers.run_due(owner="test")
    assert _events(case_id, "sla.breached") == [] and _events(case_id, "sla.warning") == []
    assert _case(case_id).sla_state == "on_track"


def test_a_stage_whose_task_never_opens_never_fires(client, keys):
    _stage_sla({"stage:approve_refund": "PT1S"})
    case_id = _open_case(client, keys)
    assert _case(case_id).sla_stages is None
    assert _stage_timers(case_id) == []
    time.sleep(1.2)
    for _ in range(3):
        timers.run_due(owner="test")
    assert _events(case_id, "sla.warning") == [] and _events(case_id, "sla.breached") == []


def test_bad_stage_entries_are_refused_naming_each_field(client, keys):
    sup = auth(keys["supervisor"])
    plain = {"first_response": "PT1H", "next_response": "PT2H", "resolution": "P1D"}
    body = {"calendar": "24x7", "targets": dict.fromkeys(policies.PRIORITIES, plain), "warning_at": 0.75}
    body["targets"] = {
        **body["targets"],
        "high": {**plain, "stage:triage": {"target": "PT10M", "goal": {"at": 0.5}}},
    }
    r = client.put("/api/v1/sla/policies/stages", json=body, headers=sup)
    assert r.status_code == 200, r.text
    assert r.json()["targets"]["high"]["stage:triage"] == {"target": "PT10M", "goal": {"at": 0.5}}

    body["targets"]["high"] = {
        **plain,
        "stage:triage": ["PT10M"],  # not a duration nor a target object
        "stage:respond": "soon",
        "stage:resolve": {"target": "PT1H", "colour": "red"},
        "stage:": "PT1H",
        "stages": {"triage": "PT1H"},
    }
    r = client.put("/api/v1/sla/policies/stages", json=body, headers=sup)
    assert r.status_code == 422 and r.json()["error"] == "InvalidInput"
    fields = sorted(f["field"] for f in r.json()["fields"])
    high = "targets.high"
    assert fields == sorted(
        [
            f"{high}.stage:triage",
            f"{high}.stage:respond",
            f"{high}.stage:resolve.colour",
            f"{high}.stage:",
            f"{high}.stages",
        ]
    )
    kept = client.get("/api/v1/sla/policies/stages", headers=sup).json()
    assert kept["targets"]["high"]["stage:triage"] == {"target": "PT10M", "goal": {"at": 0.5}}
