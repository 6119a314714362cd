"""The timer service: BPMN timers and SLA clocks fire once, through the case's one path."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from engine.auth.service import Principal
from engine.cases import flows
from engine.cases.models import Case
from engine.db import unit_of_work, utcnow
from engine.events.models import ActivityEvent
from engine.processes import service as definitions
from engine.tasks.models import Task
from engine.timers import service as timers
from engine.timers.models import Timer
from tests.helpers import DATA, auth, drain, put_default_policy, signal_body

CSR = Principal(name="csr", role="csr")


def _deploy(name: str) -> None:
    with unit_of_work() as s:
        version = definitions.add_version(
            s, (DATA / "processes" / name).read_bytes(), filename=name, actor="t"
        )
        definitions.deploy(s, "reactive_case", version.version, actor="t")


def _fast_sla(first_response: str = "PT1S", resolution: str = "PT30S", warning_at: float = 0.5) -> None:
    put_default_policy(
        {"first_response": first_response, "next_response": first_response, "resolution": resolution},
        warning_at,
    )


def _open_case(client, keys) -> str:
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    return client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["admin"])).json()["case_id"]


def _fire_until(predicate, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        timers.run_due(owner="test")
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("the expected firing did not happen in time")


def _events(case_id: str, type_: str) -> list[ActivityEvent]:
    with unit_of_work() as s:
        stmt = select(ActivityEvent).where(ActivityEvent.case_id == case_id, ActivityEvent.type == type_)
        return list(s.scalars(stmt.order_by(ActivityEvent.seq)))


def _open_tasks(case_id: str) -> set[str]:
    with unit_of_work() as s:
        return set(s.scalars(select(Task.name).where(Task.case_id == case_id, Task.status == "open")))


def test_boundary_timers_fire_through_the_case_non_interrupting_then_interrupting(client, keys):
    _deploy("boundary_timers.bpmn")
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Timer).where(Timer.kind == "bpmn")) == 2
    _fire_until(lambda: "nudge" in _open_tasks(case_id))
    assert _open_tasks(case_id) == {"triage", "nudge"}  # the nudge did not interrupt triage
    _fire_until(lambda: "escalated_triage" in _open_tasks(case_id))
    assert _open_tasks(case_id) == {"nudge", "escalated_triage"}  # triage was interrupted
    with unit_of_work() as s:
        rows = list(s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.kind == "bpmn")))
        triage = s.scalar(select(Task).where(Task.case_id == case_id, Task.name == "triage"))
    assert sorted(t.status for t in rows) == ["fired", "fired"]
    assert all(t.lateness_ms is not None and t.lateness_ms >= 0 for t in rows)
    assert triage.status == "cancelled"


def test_a_timer_whose_task_was_completed_just_before_does_nothing(client, keys):
    _deploy("boundary_timers.bpmn")
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        triage = s.scalar(select(Task).where(Task.case_id == case_id, Task.name == "triage"))
    with unit_of_work() as s:
        flows.complete_task(s, triage.id, {}, CSR)
    time.sleep(1.3)
    assert [f.status for f in timers.run_due(owner="test")] == []  # dropped when triage ended
    with unit_of_work() as s:
        statuses = set(s.scalars(select(Timer.status).where(Timer.case_id == case_id, Timer.kind == "bpmn")))
    assert statuses == {"dropped"}
    assert _open_tasks(case_id) == set()


def test_an_sla_warns_then_breaches_once_and_the_process_escalates_the_case(client, keys):
    _fast_sla(first_response="PT1S", warning_at=0.5)
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        assert case.sla_state == "on_track" and case.sla_target == "first_response"
        priority_before = case.priority
    _fire_until(lambda: bool(_events(case_id, "sla.warning")))
    with unit_of_work() as s:
        assert s.get(Case, case_id).sla_state == "at_risk"
    _fire_until(lambda: bool(_events(case_id, "sla.breached")))
    for _ in range(3):
        timers.run_due(owner="test")
    assert len(_events(case_id, "sla.warning")) == 1 and len(_events(case_id, "sla.breached")) == 1
    escalated = _events(case_id, "case.escalated")
    assert len(escalated) == 1 and escalated[0].data["to"]["queue"] == "escalations"
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        assert case.sla_state == "breached" and case.queue == "escalations"
        assert case.priority_rank == max(
            0, {"urgent": 0, "high": 1, "normal": 2, "low": 3}[priority_before] - 1
        )
    listed = client.get("/api/v1/cases?sla=breached", headers=auth(keys["supervisor"])).json()["items"]
    assert [c["id"] for c in listed] == [case_id]


def test_a_first_response_stops_its_clock_and_starts_the_resolution_clock(client, keys):
    _fast_sla(first_response="PT1S", resolution="PT1H", warning_at=0.5)
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        triage = s.scalar(select(Task).where(Task.case_id == case_id, Task.name == "triage"))
    with unit_of_work() as s:
        flows.complete_task(s, triage.id, {"action": "respond"}, CSR)
    with unit_of_work() as s:
        respond = s.scalar(
            select(Task).where(Task.case_id == case_id, Task.name == "respond", Task.status == "open")
        )
    with unit_of_work() as s:
        flows.complete_task(s, respond.id, {"reply": "We are on it.", "then": "resolve"}, CSR)
    time.sleep(1.1)
    timers.run_due(owner="test")
    assert _events(case_id, "sla.breached") == [] and _events(case_id, "sla.warning") == []
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        pending = list(
            s.scalars(select(Timer.key).where(Timer.case_id == case_id, Timer.status == "pending"))
        )
    assert case.sla_target == "resolution" and case.first_response_at is not None
    due = case.resolution_due_at.isoformat()
    # the next SLA event, the resolution clock's warning, with its breach
    assert sorted(pending) == [
        f"sla.breach:{case_id}:resolution:{due}",
        f"sla.warning:{case_id}:resolution:{due}",
    ]


def test_a_firing_that_outlives_its_lease_cannot_commit_and_the_effect_happens_once(db, monkeypatch):
    fired: list[str] = []

    def slow(session, timer):
        from engine.events import service as events

        events.record(session, "test.fired", data={"timer": timer.id})
        if not fired:
            fired.append("first")
            time.sleep(0.5)  # past its 0.2 s lease

    timers.register("test.slow", slow)
    monkeypatch.setattr(timers, "get_settings", _settings_with(timer_lease_seconds=0.2))
    with unit_of_work() as s:
        timers.schedule(s, "test.slow", "slow:1", utcnow())
    assert [f.status for f in timers.run_due(owner="a")] == ["lost"]
    assert [f.status for f in timers.run_due(owner="b")] == ["fired"]
    assert timers.run_due(owner="c") == []
    with unit_of_work() as s:
        effects = s.scalar(
            select(func.count()).select_from(ActivityEvent).where(ActivityEvent.type == "test.fired")
        )
        assert effects == 1
        assert s.scalar(select(Timer.status).where(Timer.key == "slow:1")) == "fired"


def test_a_failing_timer_retries_with_backoff_then_is_listed_as_failed(client, keys, monkeypatch):
    def broken(session, timer):
        raise RuntimeError("the handler broke")

    timers.register("test.broken", broken)
    monkeypatch.setattr(
        timers, "get_settings", _settings_with(timer_max_attempts=2, timer_retry_base_seconds=0.2)
    )
    with unit_of_work() as s:
        timer_id = timers.schedule(s, "test.broken", "broken:1", utcnow()).id
    assert [f.status for f in timers.run_due(owner="t")] == ["retry"]
    assert timers.run_due(owner="t") == []  # backing off
    time.sleep(0.25)
    assert [f.status for f in timers.run_due(owner="t")] == ["failed"]
    failed = client.get("/api/v1/timers?status=failed", headers=auth(keys["supervisor"])).json()["items"]
    assert [t["id"] for t in failed] == [timer_id] and "RuntimeError" in failed[0]["last_error"]
    assert client.get("/api/v1/timers?status=failed", headers=auth(keys["csr"])).status_code == 403
    assert client.get("/api/v1/timers?status=late", headers=auth(keys["admin"])).status_code == 422
    r = client.post(f"/api/v1/timers/{timer_id}/retry", headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["attempts"] == 0
    assert client.post(f"/api/v1/timers/{timer_id}/retry", headers=auth(keys["admin"])).status_code == 409


def _settings_with(**overrides):
    from engine.config import Settings, get_settings

    patched = Settings(**{**get_settings().model_dump(), **overrides})
    return lambda: patched


@pytest.fixture(autouse=True)
def _forget_test_handlers():
    yield
    timers._HANDLERS.pop("test.slow", None)
    timers._HANDLERS.pop("test.broken", None)


def test_metrics_publish_firings_lateness_and_what_is_overdue(client, keys):
    with unit_of_work() as s:
        timers.schedule(s, "test.slow", "overdue:1", utcnow())
    text = client.get("/metrics").text
    assert "sift_timers_overdue 1.0" in text
    assert "sift_timer_oldest_overdue_seconds" in text
    assert "sift_timer_lateness_seconds_bucket" in text and "sift_timer_firings_total" in text


def test_a_cycle_timer_repeats_its_count_then_stops(client, keys):
    _deploy("cycle_timer.bpmn")
    case_id = _open_case(client, keys)

    def nudges() -> int:
        with unit_of_work() as s:
            stmt = select(func.count()).select_from(Task).where(Task.case_id == case_id, Task.name == "nudge")
            return int(s.scalar(stmt) or 0)

    _fire_until(lambda: nudges() == 2)
    time.sleep(0.5)  # a third cycle would be due by now
    timers.run_due(owner="test")
    assert nudges() == 2 and "triage" in _open_tasks(case_id)
    with unit_of_work() as s:
        rows = list(s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.kind == "bpmn")))
    assert sorted(t.status for t in rows) == ["fired", "fired", "pending"]  # two cycles; the 1 h timer waits


def test_an_intermediate_timer_holds_the_process_until_it_fires(client, keys):
    _deploy("intermediate_timer.bpmn")
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        triage = s.scalar(select(Task).where(Task.case_id == case_id, Task.name == "triage"))
    with unit_of_work() as s:
        flows.complete_task(s, triage.id, {}, CSR)
    assert _open_tasks(case_id) == set()  # waiting on the timer, no task open
    _fire_until(lambda: _open_tasks(case_id) == {"follow_up"})
    with unit_of_work() as s:
        statuses = list(s.scalars(select(Timer.status).where(Timer.case_id == case_id, Timer.kind == "bpmn")))
    assert statuses == ["fired"]


def _complete(client, keys, case_id: str, name: str, data: dict) -> dict:  # type: ignore[no-untyped-def]
    case = client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["admin"])).json()
    [task] = [t for t in case["tasks"] if t["name"] == name]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_case_opened_after_a_breach_escalates_in_a_restarted_worker_and_still_resolves(client, keys):
    """SpiffWorkflow rewires a version's shared spec the first time an event subprocess is
    triggered: a case opened after another's breach began its escalation at once (its process
    could not end), and its own breach failed for good in a worker restarted since."""
    from engine.processes import instances

    _fast_sla(first_response="PT1S", warning_at=0.5)
    first = _open_case(client, keys)
    _fire_until(lambda: bool(_events(first, "case.escalated")))
    later = _open_case(client, keys)
    instances.clear_cache()  # a worker started again: specs parsed anew
    definitions.clear_cache()
    _fire_until(lambda: bool(_events(later, "case.escalated")))
    for _ in range(3):
        timers.run_due(owner="test")
    assert len(_events(later, "case.escalated")) == 1
    with unit_of_work() as s:
        failed = s.scalar(select(func.count()).where(Timer.case_id == later, Timer.status == "failed"))
        assert failed == 0
    _complete(client, keys, later, "triage", {"action": "respond"})
    _complete(client, keys, later, "respond", {"reply": "Sorry! On it.", "then": "resolve"})
    case = _complete(client, keys, later, "resolve", {"resolution_code": "answered"})
    assert case["status"] == "resolved"
