"""What happens when a case's timers come due: BPMN timer events, SLA warnings, breaches and
passed deadlines, each applying its level of the target (urgency, then actions).

``engine.bootstrap`` registers these handlers with the timer service. Each runs in the firing's
own transaction; one whose case or task has moved on raises ``timers.Drop``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.cases import clocks, flows, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.db import utcnow
from engine.events import service as events
from engine.sla import policies
from engine.timers import service as timers
from engine.timers.models import Timer

BREACH_MESSAGE = "sla_breached"
# the message each level's "message" action sends into the case's process
MESSAGES = {
    policies.GOAL: "sla_warning",
    policies.DEADLINE: BREACH_MESSAGE,
    policies.PASSED_DEADLINE: "sla_passed_deadline",
}
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
    """The goal passed: the state turns at risk, one ``sla.warning`` event, the goal's level."""
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
    _apply(session, case, target, policies.GOAL)


def on_sla_breach(session: Session, timer: Timer) -> None:
    """One ``sla.breached`` event, the state stored, and the deadline's level: by default a
    message into the case's process, where the process models the escalation."""
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
    _apply(session, case, target, policies.DEADLINE)


def on_sla_passed(session: Session, timer: Timer) -> None:
    """One more ``every`` after the deadline: one ``sla.passed_deadline`` event with its count,
    and the passed deadline's level; the next one is armed until ``times`` have fired."""
    case, target = _running_target(session, timer)
    count = int(timer.data.get("count", 0))
    clocks.arm(session, case, firing=timer.key)
    events.record(
        session,
        "sla.passed_deadline",
        case_id=case.id,
        actor="sla",
        data={"target": target, "due_at": timer.data["due"], "count": count},
    )
    _apply(session, case, target, policies.PASSED_DEADLINE, count=count)


def _apply(session: Session, case: Case, target: str, name: str, *, count: int | None = None) -> None:
    """The level ``name`` of the case's ``target``: its urgency added, then its actions in order."""
    found = policies.get(session, case.sla_policy).target(case.priority, target)
    level = {policies.GOAL: found.goal, policies.DEADLINE: found.deadline}.get(name, found.passed)
    if level is None:
        return
    if level.urgency:
        case.urgency = (case.urgency or 0) + level.urgency
        case.updated_at = utcnow()
    for action in level.actions:
        if action.name == policies.NOTIFY:
            data: dict[str, Any] = {
                "level": name,
                "target": target,
                "urgency": case.urgency,
                "notify": "supervisor",
            }
            if count is not None:
                data["count"] = count
            events.record(session, "sla.notified", case_id=case.id, actor="sla", data=data)
        elif action.name == policies.RAISE_PRIORITY:
            rank = max(0, transitions.PRIORITY_RANK[case.priority] - 1)
            cases.update_fields(session, case, {"priority": transitions.PRIORITIES[rank]}, actor="sla")
        elif action.name == policies.REASSIGN:
            cases.update_fields(session, case, {"queue": action.queue}, actor="sla")
        elif action.name == policies.MESSAGE and case.process_instance_id is not None:
            flows.advance(session, case, flows.Message(MESSAGES[name], {"target": target}, actor="sla"))


HANDLERS = {
    flows.BPMN_TIMER: on_bpmn_timer,
    clocks.WARNING: on_sla_warning,
    clocks.BREACH: on_sla_breach,
    clocks.PASSED: on_sla_passed,
}
