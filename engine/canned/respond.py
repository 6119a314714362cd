"""Canned replies at work: the values of a case's variables, a preview, a respond task completed
with a canned reply, and one reply to many cases (bulk).

A respond task completed with ``canned_reply_id`` gets its ``reply`` rendered here and is then
completed through the case's one path (``flows.complete_task``), so the outbox reply, the clocks
and the timeline are exactly those of a typed reply; ``reply.queued`` names the canned reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.canned import service, templates
from engine.canned.models import CannedReply
from engine.cases import flows, participants
from engine.cases import service as cases
from engine.cases.models import Case
from engine.changes import service as changes
from engine.customers import service as customers
from engine.delivery.models import OutboundReply
from engine.errors import Conflict, EngineError, InvalidInput
from engine.events import service as events
from engine.signals.models import Signal
from engine.tasks import service as tasks
from engine.tasks.models import Task
from engine.trends.investigations import INVESTIGATION

CANNED, VARIABLES, REPLY = "canned_reply_id", "variables", "reply"
RESPOND = "respond"
COMMUNICATE = "communicate"
INVESTIGATE = "investigate"
MAX_BULK = 100
_ORDER_LOOKBACK = 50  # the case's newest messages searched for an order number


@dataclass(frozen=True)
class Rendered:
    text: str
    canned: dict[str, str]  # {"id", "name"}
    values: dict[str, str]  # the variables the body uses that had a value, as filled in


def case_values(session: Session, case: Case, who: Principal, given: dict[str, str]) -> dict[str, str | None]:
    """The value of every variable for ``case``: from the case, its customer and its messages,
    with ``given`` (checked by :func:`check_given`) in place of what the case has."""
    latest = list(
        session.scalars(
            select(Signal)
            .where(Signal.case_id == case.id)
            .order_by(Signal.received_at.desc(), Signal.id.desc())
            .limit(_ORDER_LOOKBACK)
        )
    )
    name = customers.get(session, case.customer_id).display_name if case.customer_id else None
    handle = (latest[0].author or {}).get("handle") if latest else None
    values: dict[str, str | None] = {
        "customer.name": name,
        "customer.handle": str(handle) if handle else None,
        "case.id": case.id,
        "case.topic": case.topic,
        "order_id": _order_id(latest),
        "agent.name": who.name,
    }
    values.update(given)
    return values


def _order_id(signals: list[Signal]) -> str | None:
    """The first order number the NLP found in the newest message that has one."""
    for signal in signals:
        for entity in (signal.enrichment or {}).get("entities") or []:
            if isinstance(entity, dict) and entity.get("label") == "ORDER_ID" and entity.get("text"):
                return str(entity["text"])
    return None


def check_given(given: Any) -> dict[str, str]:
    """``variables`` a caller passes: an object of strings, each a variable that may be given."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidInput(
            'variables is an object of variable names to strings, e.g. {"order_id": "A12345"}.',
            fields=[{"field": VARIABLES, "message": "must be an object"}],
        )
    for name, value in given.items():
        if name not in templates.VARIABLES:
            raise templates.UnknownVariable(name, field=f"{VARIABLES}.{name}")
        if name not in templates.SUPPLIED:
            raise InvalidInput(
                f"{name!r} comes from the case and cannot be given; you may give: "
                + ", ".join(sorted(templates.SUPPLIED))
                + ".",
                fields=[{"field": f"{VARIABLES}.{name}", "message": "comes from the case"}],
            )
        if not isinstance(value, str) or not value.strip() or len(value) > templates.MAX_VALUE:
            raise InvalidInput(
                f"The value of {name!r} is a non-blank string of at most {templates.MAX_VALUE} characters.",
                fields=[{"field": f"{VARIABLES}.{name}", "message": "a non-blank string, at most 200"}],
            )
    return dict(given)


def render(
    session: Session, template: CannedReply, case: Case, who: Principal, given: dict[str, str]
) -> Rendered:
    """The template filled in for ``case``; a variable with no value and no fallback is a 422."""
    values = case_values(session, case, who, given)
    text = templates.render(template.body, values)
    if not text.strip():
        raise InvalidInput(
            f"Canned reply {template.name!r} renders to an empty reply for this case; give a fallback "
            "or some text around its variables.",
            fields=[{"field": CANNED, "message": "renders empty"}],
        )
    used = {
        n: templates.clean(v)
        for n in templates.variables_of(template.body)
        if (v := values.get(n)) is not None and v.strip()
    }
    return Rendered(text, {"id": template.id, "name": template.name}, used)


def preview(session: Session, template_id: str, case_id: str, who: Principal, given: Any) -> Rendered:
    """What ``template_id`` would say on ``case_id`` now; writes nothing."""
    template = service.get(session, template_id)
    return render(session, template, cases.get(session, case_id), who, check_given(given))


def complete_task(session: Session, task_id: str, data: dict[str, Any], who: Principal) -> Case:
    """Completes a task; a respond task may carry ``canned_reply_id`` (and ``variables``)
    instead of a written ``reply``: the rendered text becomes its ``reply``. An investigation's
    ``communicate`` step (engine/canned/communicate.py) and ``request_change`` step
    (engine/changes) do what they say as they complete; its ``investigate`` step is refused
    (409 ``SubtasksOpen``) while the investigation has open subtasks."""
    task = tasks.get(session, task_id)
    if task.name == INVESTIGATE and cases.get(session, task.case_id, lock=True).kind == INVESTIGATION:
        participants.require_none_open(session, task.case_id)
    if task.name == COMMUNICATE:
        from engine.canned import communicate  # it renders with this module's render

        return communicate.complete(session, task, data, who)
    if task.name == changes.REQUEST_CHANGE:
        return changes.request_from_task(session, task, data, who)
    if CANNED not in data and VARIABLES not in data:
        return flows.complete_task(session, task_id, data, who)
    if task.name != RESPOND:
        raise InvalidInput(
            f"canned_reply_id and variables belong to a respond task; task {task_id} is {task.name}.",
            fields=[{"field": CANNED, "message": "only for a respond task"}],
        )
    rest, rendered = _rendered_data(session, task, data, who)
    return flows.complete_task(session, task_id, rest, who, canned=rendered.canned)


def _rendered_data(
    session: Session, task: Task, data: dict[str, Any], who: Principal
) -> tuple[dict[str, Any], Rendered]:
    if REPLY in data:
        raise InvalidInput(
            "Send either a written reply or a canned_reply_id, not both.",
            fields=[{"field": REPLY, "message": "not with canned_reply_id"}],
        )
    template_id = data.get(CANNED)
    if not isinstance(template_id, str) or not template_id:
        raise InvalidInput(
            "variables go with a canned_reply_id (the id of a canned reply).",
            fields=[{"field": CANNED, "message": "is required with variables"}],
        )
    template = service.get(session, template_id)
    rendered = render(
        session, template, cases.get(session, task.case_id), who, check_given(data.get(VARIABLES))
    )
    rest = {k: v for k, v in data.items() if k not in (CANNED, VARIABLES)}
    return {**rest, REPLY: rendered.text}, rendered


class NoRespondTask(Conflict):
    def __init__(self, case_id: str, stage: str | None) -> None:
        super().__init__(
            f"Case {case_id} has no open respond task (its stage is {stage or 'none'}); "
            "triage it first, or leave it out."
        )


@dataclass(frozen=True)
class BulkReply:
    """One reply for many cases: ``text``, or ``canned_reply_id`` rendered for each case."""

    case_ids: list[str]
    text: str | None = None
    canned_reply_id: str | None = None
    variables: dict[str, str] | None = None
    then: str | None = None


@dataclass(frozen=True)
class BulkResult:
    case_id: str
    ok: bool
    task_id: str | None = None
    reply_id: str | None = None
    case_status: str | None = None
    error: str | None = None
    detail: str | None = None


def bulk_reply(session: Session, request: BulkReply, who: Principal) -> list[BulkResult]:
    """Completes each case's open respond task with the reply, each in its own savepoint: a case
    that fails (no respond task, held by someone else, a variable it has no value for) rolls
    back alone and says why; the others are completed as one respond each would be."""
    template = _check_bulk(session, request)
    given = check_given(request.variables)
    return [_reply_one(session, case_id, request, template, given, who) for case_id in request.case_ids]


def _check_bulk(session: Session, request: BulkReply) -> CannedReply | None:
    if not request.case_ids or len(request.case_ids) > MAX_BULK:
        raise InvalidInput(
            f"A bulk reply names 1 to {MAX_BULK} cases; split a longer list.",
            fields=[{"field": "case_ids", "message": f"1 to {MAX_BULK} case ids"}],
        )
    repeated = sorted({c for c in request.case_ids if request.case_ids.count(c) > 1})
    if repeated:
        raise InvalidInput(
            f"Case ids are listed more than once: {', '.join(repeated[:5])}; list each case once.",
            fields=[{"field": "case_ids", "message": "each case once"}],
        )
    if (request.text is None) == (request.canned_reply_id is None):
        raise InvalidInput(
            "A bulk reply has either text or a canned_reply_id.",
            fields=[{"field": "text", "message": "exactly one of text and canned_reply_id"}],
        )
    if request.text is not None and not request.text.strip():
        raise InvalidInput(
            "The reply text is blank.", fields=[{"field": "text", "message": "must not be blank"}]
        )
    if request.variables and request.canned_reply_id is None:
        raise InvalidInput(
            "variables go with a canned_reply_id.",
            fields=[{"field": VARIABLES, "message": "only with canned_reply_id"}],
        )
    return service.get(session, request.canned_reply_id) if request.canned_reply_id else None


def _reply_one(
    session: Session,
    case_id: str,
    request: BulkReply,
    template: CannedReply | None,
    given: dict[str, str],
    who: Principal,
) -> BulkResult:
    events.write_pending(session)  # the earlier cases' events stay out of this case's savepoint
    task_id: str | None = None
    try:
        with session.begin_nested():
            case = cases.get(session, case_id)
            respond = [t for t in tasks.for_case(session, case_id) if t.name == RESPOND]
            if not respond:
                raise NoRespondTask(case_id, case.stage)
            task_id = respond[0].id
            data: dict[str, Any] = {} if request.then is None else {"then": request.then}
            canned = None
            if template is not None:
                rendered = render(session, template, case, who, given)
                data[REPLY], canned = rendered.text, rendered.canned
            else:
                data[REPLY] = request.text
            flows.complete_task(session, task_id, data, who, canned=canned)
            reply_id = _newest_reply(session, case_id)
            status = case.status
    except EngineError as err:
        events.pending(session).clear()  # what this case recorded went with its savepoint
        return BulkResult(case_id, False, task_id=task_id, error=err.code, detail=err.detail)
    return BulkResult(case_id, True, task_id=task_id, reply_id=reply_id, case_status=status)


def _newest_reply(session: Session, case_id: str) -> str | None:
    return session.scalar(
        select(OutboundReply.id)
        .where(OutboundReply.case_id == case_id)
        .order_by(OutboundReply.created_at.desc())
        .limit(1)
    )
