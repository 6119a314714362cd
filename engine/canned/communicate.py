"""One answer to everyone affected: an investigation's ``communicate`` step.

Completing the step names a canned reply (and its variables): the step completes (the process
then waits for every linked case to be resolved, or for its deadline), and each linked case that
is still open or waiting (the investigation's children) gets its one reply, rendered for it,
through the outbound reply path and is resolved with the resolution code, each through its own
flow (``flows.End`` with the reply). A linked case another CSR holds, or that the reply cannot be
rendered for (a variable it has no value for), is left to its CSR and named in
``investigation.communicated``; the wait is for those. When the last linked case is resolved,
the investigation's flow hears ``linked_cases_resolved`` (``flows.settle_parent``), in this
request or when a CSR resolves it later; otherwise the deadline (a BPMN timer) ends the wait.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.canned import service
from engine.canned.respond import Rendered, check_given, render
from engine.cases import flows, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.errors import InvalidInput
from engine.events import service as events
from engine.sla.durations import parse_duration
from engine.tasks.models import Task
from engine.trends.investigations import INVESTIGATION, LIVE

DEFAULT_CODE = "answered_by_investigation"
DEFAULT_DEADLINE = "P3D"
MAX_LINKED = 1000  # more live children than this is a topic to answer in parts
MAX_LEFT_NAMED = 50  # of the cases left to their CSR, the event names this many


def complete(session: Session, task: Task, data: dict[str, Any], who: Principal) -> Case:
    """Completes the investigation's communicate task (see the module); another process's task
    of the same name is completed as any task is."""
    investigation = cases.get(session, task.case_id)
    if investigation.kind != INVESTIGATION:
        return flows.complete_task(session, task.id, data, who)
    template_id = data.get("canned_reply_id")
    if not isinstance(template_id, str) or not template_id:  # the form says so too; name it first
        raise InvalidInput(
            "The communicate step sends a canned reply: give its canned_reply_id.",
            fields=[{"field": "canned_reply_id", "message": "is required"}],
        )
    template = service.get(session, template_id)
    given = check_given(data.get("variables"))
    code = data.get("resolution_code") or DEFAULT_CODE
    deadline = _deadline(data.get("communicate_deadline", DEFAULT_DEADLINE))
    children = _live_children(session, investigation.id)
    answered, left = _render_each(session, template, children, who, given)
    completed = {
        **data,
        "resolution_code": code,
        "communicate_deadline": deadline,
        "variables": given,
    }
    flows.complete_task(session, task.id, completed, who)
    _, total = flows.children_count(session, investigation.id)
    events.record(
        session,
        "investigation.communicated",
        case_id=investigation.id,
        actor=who.name,
        data={
            "canned_reply": {"id": template.id, "name": template.name},
            "resolution_code": code,
            "replies": len(answered),
            "left": len(left),
            "left_cases": left[:MAX_LEFT_NAMED],
            "linked": total,
            "deadline": deadline,
        },
    )
    for child, reply in answered:
        resolution = {"code": code, "note": f"answered by investigation {investigation.id}"}
        resolution["parent_id"] = investigation.id
        flows.advance(
            session,
            child,
            flows.End(
                resolution,
                who.name,
                status=transitions.RESOLVED,
                reply=reply.text,
                canned=reply.canned,
            ),
        )
    flows.settle_parent(session, investigation.id, actor=who.name)  # none were left open
    return investigation


def _deadline(raw: Any) -> str:
    try:
        length = parse_duration(raw)
    except (TypeError, ValueError):
        length = timedelta(0)
    if length <= timedelta(0):
        raise InvalidInput(
            "communicate_deadline is how long to wait for the linked cases, an ISO 8601 duration "
            "longer than zero such as P3D or PT12H.",
            fields=[{"field": "communicate_deadline", "message": "an ISO 8601 duration such as P3D"}],
        )
    return str(raw)


def _live_children(session: Session, parent_id: str) -> list[Case]:
    stmt = (
        select(Case)
        .where(Case.parent_id == parent_id, Case.status.in_(LIVE))
        .order_by(Case.created_at, Case.id)
        .limit(MAX_LINKED + 1)
    )
    found = list(session.scalars(stmt))
    if len(found) > MAX_LINKED:
        raise InvalidInput(
            f"More than {MAX_LINKED} linked cases are open; resolve some with a bulk reply first.",
            fields=[{"field": "canned_reply_id", "message": f"at most {MAX_LINKED} linked cases"}],
        )
    return found


def _render_each(
    session: Session, template: Any, children: list[Case], who: Principal, given: dict[str, str]
) -> tuple[list[tuple[Case, Rendered]], list[dict[str, str]]]:
    """The reply for each linked case it is for, and the cases left to their CSR, with why."""
    answered: list[tuple[Case, Rendered]] = []
    left: list[dict[str, str]] = []
    for child in children:
        if child.assignee is not None and child.assignee != who.name:
            left.append({"case_id": child.id, "error": "CaseHeld", "detail": f"held by {child.assignee}"})
            continue
        try:
            answered.append((child, render(session, template, child, who, given)))
        except InvalidInput as err:
            left.append({"case_id": child.id, "error": err.code, "detail": err.detail})
    return answered, left
