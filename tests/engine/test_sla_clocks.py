"""SLA clocks: the resolution clock pauses while the case waits on the customer, a customer
message resumes it and starts the next-response clock, and a reply stops that one."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.cases import clocks, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.db import unit_of_work, utcnow
from engine.events.models import ActivityEvent
from engine.timers.models import Timer
from tests.engine.test_timers import _fast_sla, _fire_until, _open_case


def _pending(case_id: str) -> dict[str, str]:
    with unit_of_work() as s:
        rows = s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.status == "pending"))
        return {t.key: t.kind for t in rows}


def test_waiting_pauses_the_resolution_clock_and_the_paused_time_is_excluded(client, keys):
    _fast_sla(first_response="PT1H", resolution="PT8H")
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        due_before = case.resolution_due_at
        paused_at = case.created_at + timedelta(hours=1)
        clocks.pause(s, case, paused_at)
        assert case.sla_paused and cases.sla_state(case) == "paused"
    assert not any(":resolution:" in k for k in _pending(case_id)), "no resolution timer runs while paused"
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        clocks.customer_message(s, case, paused_at + timedelta(hours=3))
        assert case.resolution_due_at == due_before + timedelta(hours=3)
        assert case.sla_paused_seconds == 3 * 3600 and not case.sla_paused
        new_due = case.resolution_due_at.isoformat()
        assert [(r.target, r.due.isoformat()) for r in clocks.running(case)] == [
            ("first_response", case.first_response_due_at.isoformat()),
            ("resolution", new_due),
        ]
    # the next SLA event, the first response's warning, with its breach
    assert sorted(_pending(case_id).values()) == ["sla.breach", "sla.warning"]
    assert all(":first_response:" in k for k in _pending(case_id))


def test_a_case_waiting_on_the_customer_through_its_status_shows_paused(client, keys):
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        cases.transition(s, s.get(Case, case_id), transitions.WAITING, actor="csr")
    listed = client.get("/api/v1/cases?sla=paused", headers={"Authorization": f"Bearer {keys['csr']}"}).json()
    assert [c["id"] for c in listed["items"]] == [case_id]
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        cases.transition(s, case, transitions.OPEN, actor="csr")
        assert not case.sla_paused and case.sla_paused_seconds >= 0


def test_a_customer_message_after_our_reply_starts_the_next_response_clock_and_a_reply_stops_it(client, keys):
    _fast_sla(first_response="PT1H", resolution="PT8H")
    case_id = _open_case(client, keys)
    now = utcnow()
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        clocks.customer_message(s, case, now)  # before any reply: still the first response that is owed
        assert case.next_response_due_at is None
        clocks.replied(s, case, now)
        clocks.customer_message(s, case, now + timedelta(minutes=5))
        assert case.next_response_due_at == now + timedelta(minutes=5, hours=1)
        assert case.sla_target == "next_response"
    assert any(":next_response:" in k for k in _pending(case_id))
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        clocks.replied(s, case, now + timedelta(minutes=20))
        assert case.next_response_due_at is None and case.sla_target == "resolution"
    assert not any(":next_response:" in k for k in _pending(case_id))


def test_an_owed_next_response_breaches_through_the_timers(client, keys):
    _fast_sla(first_response="PT1S", resolution="PT1H", warning_at=0.5)
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        clocks.replied(s, case)
        clocks.customer_message(s, case)

    def breached() -> list[dict]:
        with unit_of_work() as s:
            stmt = select(ActivityEvent.data).where(
                ActivityEvent.case_id == case_id, ActivityEvent.type == "sla.breached"
            )
            return list(s.scalars(stmt))

    _fire_until(lambda: bool(breached()))
    assert [d["target"] for d in breached()] == ["next_response"]  # the met first response never breached
    with unit_of_work() as s:
        assert s.get(Case, case_id).sla_state == "breached"
