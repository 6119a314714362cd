"""What happens when a case's timers come due: BPMN timer events, SLA warnings and breaches.

``engine.bootstrap`` registers these handlers with the timer service. Each runs in the firing's
own transaction; one whose case or task has moved on raises ``timers.Drop``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.cases import clocks, flows, transitions
from engine.cases.models import Case
from engine.events import service as events
from engine.timers import service as timers
from engine.timers.models import Timer

BREACH_MESSAGE = "sla_breached"
_DONE = (transitions.RESOLVED, transitions.CLOSED)


def _case(session: Session, timer: Timer) -> Case:
    """The timer's case, locked (on PostgreSQL) against a CSR changing it at the same moment."""
    case = session.get(Case, timer.case_id, with_for_update=True) if timer.case_id else None
    if case is None or case.status in _DONE:
        raise timers.Drop()
    return case


def on_bpmn_timer(session: Session, timer: Timer) -> None:
    case = _case(session, timer)
    if case.process_instance_id != timer.instance_id or timer.task_id is None:
        raise timers.Drop()
    if not flows.advance(session, case, flows.FireTimer(timer.task_id)).caught:
        raise timers.Drop()


def _running_target(session: Session, timer: Timer) -> tuple[Case, str]:
    case = _case(session, timer)
    target, due = timer.data.get("target"), timer.data.get("due")
    if not target or not due or not clocks.is_running(case, target, datetime.fromisoformat(due)):
        raise timers.Drop()  # that target was met, paused or moved: its clock has other timers now
    return case, target


def on_sla_warning(session: Session, timer: Timer) -> None:
    case, target = _running_target(session, timer)
    if case.sla_state == "on_track":
        case.sla_state = "at_risk"
    clocks.arm(session, case, firing=timer.key)  # the next one: this clock's breach, or another's
    events.record(
        session,
        "sla.warning",
        case_id=case.id,
        actor="sla",
        data={"target": target, "due_at": timer.data["due"]},
    )


def on_sla_breach(session: Session, timer: Timer) -> None:
    """One ``sla.breached`` event, the state stored, and a message into the case's process,
    where the process models the escalation."""
    case, target = _running_target(session, timer)
    case.sla_state = "breached"
    clocks.arm(session, case, firing=timer.key)
    events.record(
        session,
        "sla.breached",
        case_id=case.id,
        actor="sla",
        data={"target": target, "due_at": timer.due_at.isoformat()},
    )
    if case.process_instance_id is not None:
        flows.advance(session, case, flows.Message(BREACH_MESSAGE, {"target": target}, actor="sla"))


HANDLERS = {
    flows.BPMN_TIMER: on_bpmn_timer,
    clocks.WARNING: on_sla_warning,
    clocks.BREACH: on_sla_breach,
}
