"""SLA levels: a target's goal, deadline and passed deadlines raise the case's urgency and act on it."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.cases import clocks, transitions
from engine.cases.models import Case
from engine.db import unit_of_work
from engine.sla import policies
from engine.timers import service as timers
from engine.timers.models import Timer
from tests.api.test_case_list import _seed
from tests.engine.test_timers import _events, _fire_until, _open_case
from tests.helpers import auth, detached_case, put_default_policy


def _levels_sla(first_response: Any, resolution: Any = "PT1H", warning_at: float = 0.5) -> None:
    put_default_policy(
        {"first_response": first_response, "next_response": "PT1H", "resolution": resolution}, warning_at
    )


def _case(case_id: str) -> Case:
    return detached_case(case_id)


def _pending_kinds(case_id: str) -> list[str]:
    with unit_of_work() as s:
        return list(s.scalars(select(Timer.kind).where(Timer.case_id == case_id, Timer.status == "pending")))


def test_goal_and_deadline_apply_once_each_and_their_urgency_adds_up(client, keys):
    _levels_sla(
        {
            "target": "PT1S",
            "goal": {"urgency": 10, "actions": ["notify"]},
            "deadline": {"urgency": 25, "actions": ["raise_priority", {"reassign": "supervisors"}, "notify"]},
        }
    )
    case_id = _open_case(client, keys)
    before = _case(case_id)
    assert before.urgency == 0
    _fire_until(lambda: bool(_events(case_id, "sla.breached")))
    for _ in range(3):
        timers.run_due(owner="test")
    after = _case(case_id)
    assert after.urgency == 35
    rank = max(0, transitions.PRIORITY_RANK[before.priority] - 1)
    assert after.priority == transitions.PRIORITIES[rank] and after.queue == "supervisors"
    assert len(_events(case_id, "sla.warning")) == 1 and len(_events(case_id, "sla.breached")) == 1
    notified = [e.data for e in _events(case_id, "sla.notified")]
    assert [(d["level"], d["target"], d["urgency"]) for d in notified] == [
        ("goal", "first_response", 10),
        ("deadline", "first_response", 35),
    ]
    updates = [e for e in _events(case_id, "case.updated") if e.actor == "sla"]
    assert [sorted(e.data) for e in updates] == [["priority"], ["queue"]]
    assert updates[1].data["queue"] == {"from": before.queue, "to": "supervisors"}
    # the deadline's actions replace the default message: the process did not escalate
    assert _events(case_id, "case.escalated") == []
    shown = client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"])).json()
    assert shown["urgency"] == 35 and shown["queue"] == "supervisors"
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]
    assert [i["type"] for i in timeline].count("sla.notified") == 2


def test_passed_deadlines_fire_their_times_then_stop(client, keys):
    _levels_sla(
        {
            "target": "PT1S",
            "passed_deadline": {"every": "PT0.4S", "times": 3, "urgency": 5, "actions": ["notify"]},
        }
    )
    case_id = _open_case(client, keys)
    _fire_until(lambda: len(_events(case_id, "sla.passed_deadline")) == 3, seconds=8.0)
    time.sleep(1.0)
    for _ in range(3):
        timers.run_due(owner="test")
    passed = _events(case_id, "sla.passed_deadline")
    assert [(e.data["count"], e.data["target"]) for e in passed] == [(i, "first_response") for i in (1, 2, 3)]
    assert [e.data["level"] for e in _events(case_id, "sla.notified")] == ["passed_deadline"] * 3
    assert _case(case_id).urgency == 15
    # the default deadline still sends sla_breached into the process, which escalates the case
    assert len(_events(case_id, "case.escalated")) == 1
    # only the resolution clock is left: its warning, and its breach armed with it
    assert sorted(_pending_kinds(case_id)) == ["sla.breach", "sla.warning"]


def test_passed_deadlines_stop_when_the_clock_stops(client, keys):
    _levels_sla({"target": "PT1S", "passed_deadline": {"every": "PT0.4S", "times": 10}})
    case_id = _open_case(client, keys)
    _fire_until(lambda: len(_events(case_id, "sla.passed_deadline")) >= 1)
    with unit_of_work() as s:
        clocks.replied(s, s.get(Case, case_id))
    assert "sla.passed" not in _pending_kinds(case_id)
    count = len(_events(case_id, "sla.passed_deadline"))
    time.sleep(1.0)
    for _ in range(3):
        timers.run_due(owner="test")
    assert len(_events(case_id, "sla.passed_deadline")) == count < 10
    assert _case(case_id).urgency == 0  # a level without urgency adds none


def test_a_met_target_fires_none_of_its_levels(client, keys):
    _levels_sla(
        {
            "target": "PT1S",
            "goal": {"urgency": 10, "actions": ["notify", "raise_priority"]},
            "deadline": {"urgency": 10, "actions": [{"reassign": "supervisors"}]},
            "passed_deadline": {"every": "PT0.2S", "times": 2, "urgency": 10},
        }
    )
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        clocks.replied(s, s.get(Case, case_id))
    time.sleep(1.5)
    for _ in range(3):
        timers.run_due(owner="test")
    for kind in ("sla.warning", "sla.breached", "sla.passed_deadline", "sla.notified"):
        assert _events(case_id, kind) == [], kind
    case = _case(case_id)
    assert case.urgency == 0 and case.queue != "supervisors" and case.sla_state == "on_track"


def test_a_goal_share_of_its_own_moves_the_warning(client, keys):
    _levels_sla({"target": "PT1H", "goal": {"at": 0.25}})
    case_id = _open_case(client, keys)
    case = _case(case_id)
    assert (case.sla_warning_at - case.created_at).total_seconds() == 15 * 60
    r = client.post(
        "/api/v1/sla/preview", json={"policy": "default", "priority": "high"}, headers=auth(keys["csr"])
    )
    preview = r.json()["first_response"]
    opened, warning = (datetime.fromisoformat(v) for v in (r.json()["opened_at"], preview["warning_at"]))
    assert preview["target"] == "PT1H" and (warning - opened).total_seconds() == 15 * 60


def test_target_objects_round_trip_and_bad_levels_name_each_field(client, keys):
    good = {
        "target": "PT1H",
        "goal": {"urgency": 10, "actions": ["notify"], "at": 0.5},
        "deadline": {"urgency": 20, "actions": ["message", {"reassign": "escalations"}]},
        "passed_deadline": {"every": "PT30M", "times": 3, "urgency": 5, "actions": ["raise_priority"]},
    }
    body = {
        "calendar": "24x7",
        "targets": {
            p: {"first_response": good, "next_response": "PT2H", "resolution": "PT8H"}
            for p in policies.PRIORITIES
        },
        "warning_at": 0.75,
    }
    sup = auth(keys["supervisor"])
    r = client.put("/api/v1/sla/policies/levels", json=body, headers=sup)
    assert r.status_code == 200, r.text
    assert (
        client.get("/api/v1/sla/policies/levels", headers=sup).json()["targets"]["high"]["first_response"]
        == good
    )
    bad_first = {
        "target": "PT1H",
        "goal": {"urgency": 101, "actions": ["shout"], "at": 1.5},
        "deadline": "soon",
        "passed_deadline": {"every": "PT0S", "times": 0},
        "extra": 1,
    }
    bad_resolution = {
        "target": "never",
        "deadline": {"urgency": True, "actions": [{"reassign": ""}], "colour": "red"},
    }
    body["targets"]["high"] = {
        "first_response": bad_first,
        "next_response": "PT2H",
        "resolution": bad_resolution,
    }
    r = client.put("/api/v1/sla/policies/levels", json=body, headers=sup)
    assert r.status_code == 422 and r.json()["error"] == "InvalidInput"
    fields = [f["field"] for f in r.json()["fields"]]
    first, resolution = "targets.high.first_response", "targets.high.resolution"
    assert sorted(fields) == sorted(
        [
            f"{first}.extra",
            f"{first}.goal.urgency",
            f"{first}.goal.actions.0",
            f"{first}.goal.at",
            f"{first}.deadline",
            f"{first}.passed_deadline.every",
            f"{first}.passed_deadline.times",
            f"{resolution}.target",
            f"{resolution}.deadline.colour",
            f"{resolution}.deadline.urgency",
            f"{resolution}.deadline.actions.0",
        ]
    )
    unchanged = client.get("/api/v1/sla/policies/levels", headers=sup).json()
    assert unchanged["targets"]["high"]["first_response"] == good  # nothing half-written


def test_the_case_list_sorts_by_urgency_and_pages_through_every_case_once(client, keys):
    _seed(client, keys, 7)
    with unit_of_work() as s:
        for i, case in enumerate(s.scalars(select(Case).order_by(Case.created_at, Case.id))):
            case.urgency = (i % 3) * 10
    csr = auth(keys["csr"])
    seen: list[dict] = []
    cursor = None
    while True:
        url = "/api/v1/cases?limit=2&sort=-urgency" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=csr).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len({c["id"] for c in seen}) == len(seen) == 7
    assert [c["urgency"] for c in seen] == [20, 20, 10, 10, 0, 0, 0]
    ties = [c["created_at"] for c in seen if c["urgency"] == 0]
    assert ties == sorted(ties)  # the oldest first among equals
