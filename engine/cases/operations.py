"""Operations BPMN service tasks may call on the case their process runs for.

Each goes through ``cases.service`` (so the timeline and outbox see it) in the
transaction of the engine step that calls it. Parameters are plain values;
results are plain data stored in the task's result variable. ``engine.bootstrap``
registers :data:`OPERATIONS` with the runtime's service registry at start-up.
"""

from __future__ import annotations

from engine.cases import service as cases
from engine.cases import transitions
from engine.cases.models import Case
from engine.errors import InvalidInput
from engine.events import service as events
from engine.processes.context import StepContext, current


def _case() -> tuple[StepContext, Case]:
    step = current()
    return step, step.case


def set_priority(priority: str) -> str:
    """Escalate or lower the case: ``priority`` is urgent, high, normal or low."""
    step, case = _case()
    cases.update_fields(step.session, case, {"priority": priority}, actor=f"process:{step.actor}")
    return case.priority


def set_topic(topic: str) -> str:
    step, case = _case()
    if not isinstance(topic, str) or not topic.strip():
        raise InvalidInput("case.set_topic needs a non-empty topic.")
    cases.update_fields(step.session, case, {"topic": topic.strip()[:100]}, actor=f"process:{step.actor}")
    return case.topic or ""


def route_to_queue(queue: str) -> str:
    """Hand the case to another queue (its open tasks follow)."""
    step, case = _case()
    if not isinstance(queue, str) or not queue.strip():
        raise InvalidInput("case.route_to_queue needs a queue name.")
    cases.update_fields(step.session, case, {"queue": queue.strip()[:64]}, actor=f"process:{step.actor}")
    return case.queue


def note(body: str) -> str:
    """An internal note on the case's timeline, written by the process."""
    step, case = _case()
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("case.note needs a non-empty body.")
    return events.record(
        step.session, "case.note", case_id=case.id, actor=f"process:{step.actor}", data={"body": body[:5000]}
    ).id


def escalate(queue: str = "") -> str:
    """Escalate the case: its priority goes up one step (urgent stays urgent), it moves to
    ``queue`` when one is given, and a ``case.escalated`` event tells supervisors (timeline and
    outbox). Returns the new priority."""
    step, case = _case()
    if not isinstance(queue, str):
        raise InvalidInput("case.escalate takes a queue name, or an empty string to keep the queue.")
    rank = max(0, transitions.PRIORITY_RANK[case.priority] - 1)
    changes = {"priority": transitions.PRIORITIES[rank], "queue": queue.strip()[:64] or None}
    before = {"priority": case.priority, "queue": case.queue}
    actor = f"process:{step.actor}"
    cases.update_fields(step.session, case, changes, actor=actor)
    events.record(
        step.session,
        "case.escalated",
        case_id=case.id,
        actor=actor,
        data={
            "from": before,
            "to": {"priority": case.priority, "queue": case.queue},
            "sla_target": case.sla_target,
            "notify": "supervisor",
        },
    )
    return case.priority


OPERATIONS = {
    "case.set_priority": set_priority,
    "case.set_topic": set_topic,
    "case.route_to_queue": route_to_queue,
    "case.note": note,
    "case.escalate": escalate,
}
