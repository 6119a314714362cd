"""Cases: opening, every status change, holding and assignment, the case list.

A case changes status only through :func:`transition`, which checks the move
against ``transitions.ALLOWED`` and records it on the timeline and outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from engine import pagination
from engine.auth import service as auth
from engine.auth.models import ApiKey
from engine.auth.service import Principal
from engine.cases import assignment, clocks, transitions
from engine.cases.models import Case
from engine.db import new_id, utcnow
from engine.errors import Conflict, EngineError, Forbidden, InvalidInput, NotFound
from engine.events import service as events
from engine.sla import clock, policies
from engine.tasks.models import OPEN as TASK_OPEN
from engine.tasks.models import Task


class IllegalTransition(Conflict):
    def __init__(self, case_id: str, current: str, target: str) -> None:
        allowed = ", ".join(sorted(transitions.ALLOWED.get(current, ()))) or "none"
        super().__init__(f"Case {case_id} is {current}; it cannot become {target} (allowed: {allowed}).")


class AtCapacity(Conflict):
    def __init__(self, holder: str, capacity: int) -> None:
        super().__init__(
            f"{holder} holds {capacity} open cases, their capacity; resolve or release one first, "
            "or a supervisor raises the capacity (PATCH /api/v1/agents/{name})."
        )


class CaseHeld(Conflict):
    def __init__(self, case_id: str, holder: str) -> None:
        super().__init__(
            f"Case {case_id} is held by {holder}; ask them to release it or a supervisor to reassign it."
        )


def get(session: Session, case_id: str, *, lock: bool = False) -> Case:
    case = session.get(Case, case_id, with_for_update=lock and _is_pg(session))
    if case is None:
        raise NotFound("case", case_id)
    return case


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def transition(
    session: Session,
    case: Case,
    target: str,
    *,
    actor: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    """The one way a case changes status."""
    current = case.status
    if current == target:
        return
    if not transitions.can_move(current, target):
        raise IllegalTransition(case.id, current, target)
    now = utcnow()
    case.status = target
    case.updated_at = now
    if target in (transitions.RESOLVED, transitions.CLOSED):
        case.resolved_at = case.resolved_at or now
        clocks.stop(session, case)
    elif target == transitions.WAITING:
        clocks.pause(session, case, now)  # the resolution clock waits with the case
    elif current == transitions.WAITING:
        clocks.resume(session, case, now)
    elif current == transitions.RESOLVED:
        case.resolved_at = None
        clocks.arm(session, case)
    event_type = {
        transitions.RESOLVED: "case.resolved",
        transitions.CLOSED: "case.closed",
        transitions.WAITING: "case.waiting",
    }.get(target, "case.reopened" if current == transitions.RESOLVED else "case.status_changed")
    events.record(
        session,
        event_type,
        case_id=case.id,
        actor=actor,
        data={"from": current, "to": target, **(data or {})},
    )


@dataclass(frozen=True)
class Opening:
    """What routing decided for a new case."""

    priority: str
    queue: str
    topic: str | None
    title: str
    customer_id: str | None
    sla_policy: str
    origin_signal_id: str | None = None
    kind: str = "reactive"
    influence: float | None = None  # the customer's, for the urgency of the case's work
    value_tier: str | None = None


def open_case(session: Session, opening: Opening, *, actor: str | None, rule: str | None = None) -> Case:
    """Writes the case row and its ``case.opened`` event; the caller starts its process."""
    if opening.priority not in transitions.PRIORITY_RANK:
        raise InvalidInput(f"Unknown priority {opening.priority!r}; use {', '.join(transitions.PRIORITIES)}.")
    now = utcnow()
    policy = policies.get(session, opening.sla_policy)
    started = clock.start(policy, opening.priority, now)
    case = Case(
        id=new_id(),
        kind=opening.kind,
        status=transitions.OPEN,
        priority=opening.priority,
        priority_rank=transitions.PRIORITY_RANK[opening.priority],
        queue=opening.queue,
        topic=opening.topic,
        title=opening.title[:300],
        customer_id=opening.customer_id,
        origin_signal_id=opening.origin_signal_id,
        sla_policy=policy.name,
        first_response_due_at=started.first_response_due,
        resolution_due_at=started.resolution_due,
        sla_target=clocks.FIRST_RESPONSE,
        sla_due_at=started.due,
        sla_warning_at=started.warning,
        customer_points=assignment.customer_points(opening.influence, opening.value_tier),
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    clocks.arm(session, case, new=True)
    events.record(
        session,
        "case.opened",
        case_id=case.id,
        actor=actor,
        data={"priority": case.priority, "queue": case.queue, "topic": case.topic, "rule": rule},
    )
    auto_assign(session, case)
    return case


def auto_assign(session: Session, case: Case) -> str | None:
    """Gives an unheld case to the member its queue's strategy picks (round robin or least
    loaded, among eligible members: see ``assignment``); nothing for a manual queue or when
    nobody is eligible. A ``case.assigned`` event names the queue and the strategy."""
    if case.assignee is not None or case.status != transitions.OPEN:
        return None
    choice = assignment.choose(session, case.queue)
    if choice is None:
        return None
    case.assignee = choice.assignee
    case.updated_at = utcnow()
    events.record(
        session,
        "case.assigned",
        case_id=case.id,
        actor=f"queue:{case.queue}",
        data={"assignee": choice.assignee, "previous": None, "strategy": choice.strategy},
    )
    _sync_open_tasks(session, case)
    return choice.assignee


def recheck_holder(session: Session, case: Case) -> str | None:
    """A reopened ``case`` goes back to its holder only if they can take work: an active key, not
    away, with room under their capacity beside the cases they hold already. Otherwise it is
    released (a ``case.released`` event with ``data.reason`` ``revoked``, ``away`` or
    ``at_capacity``) and its queue's strategy hands it on; returns the reason, None when kept."""
    name = case.assignee
    if name is None:
        auto_assign(session, case)
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if key is None:
        reason = "revoked"
    elif key.away:
        reason = "away"
    elif not assignment.has_room(key, assignment.loads(session, [name], besides=case.id)[name]):
        reason = "at_capacity"
    else:
        return None
    case.assignee = None
    case.updated_at = utcnow()
    events.record(
        session, "case.released", case_id=case.id, actor="system", data={"previous": name, "reason": reason}
    )
    _sync_open_tasks(session, case)
    auto_assign(session, case)
    return reason


def update_fields(session: Session, case: Case, changes: dict[str, Any], *, actor: str | None) -> None:
    """Changes priority or topic, recording the old and new values."""
    changed: dict[str, Any] = {}
    for field in ("priority", "topic", "queue"):
        new = changes.get(field)
        if new is None or new == getattr(case, field):
            continue
        if field == "priority":
            if new not in transitions.PRIORITY_RANK:
                raise InvalidInput(f"Unknown priority {new!r}; use {', '.join(transitions.PRIORITIES)}.")
            case.priority_rank = transitions.PRIORITY_RANK[new]
        changed[field] = {"from": getattr(case, field), "to": new}
        setattr(case, field, new)
    if changed:
        case.updated_at = utcnow()
        events.record(session, "case.updated", case_id=case.id, actor=actor, data=changed)
        _sync_open_tasks(session, case)
        if "queue" in changed:
            auto_assign(session, case)  # it landed in another queue: that queue's strategy applies


def set_parent(session: Session, case: Case, parent: Case, *, actor: str, data: dict[str, Any]) -> None:
    """Puts ``case`` under ``parent`` (a reactive case under its topic's investigation); the
    child's timeline says so with a ``trend.case_linked`` event."""
    if case.parent_id == parent.id:
        return
    case.parent_id = parent.id
    case.updated_at = utcnow()
    events.record(
        session, "trend.case_linked", case_id=case.id, actor=actor, data={"parent_id": parent.id, **data}
    )


def children_counts(session: Session, case_id: str) -> dict[str, int]:
    """How many cases have ``case_id`` as their parent, by status."""
    stmt = select(Case.status, func.count()).where(Case.parent_id == case_id).group_by(Case.status)
    return {status: int(n) for status, n in session.execute(stmt)}


def claim(session: Session, case_id: str, who: Principal, *, task_id: str | None = None) -> Case:
    """Takes the case for ``who``; atomic, so of two racing claims exactly one wins. A CSR at
    capacity cannot take another case (409)."""
    case = get(session, case_id)
    if case.assignee != who.name:
        _check_room(session, who.name, enforce=not who.is_supervisor)
    if not _take(session, case_id, who.name):
        session.refresh(case)
        raise CaseHeld(case_id, case.assignee or "someone")
    session.refresh(case)
    data: dict[str, Any] = {"assignee": who.name}
    if task_id is not None:
        data["task_id"] = task_id
    events.record(session, "case.claimed", case_id=case.id, actor=who.name, data=data)
    _sync_open_tasks(session, case)
    return case


def _take(session: Session, case_id: str, name: str) -> bool:
    """The conditional UPDATE every claim is: it changes the row only while nobody else holds
    it, and its row count says whether this claim won."""
    result = session.execute(
        update(Case)
        .where(Case.id == case_id, or_(Case.assignee.is_(None), Case.assignee == name))
        .values(assignee=name, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _check_room(session: Session, name: str, *, enforce: bool = True) -> None:
    stmt = select(ApiKey).where(ApiKey.name == name)
    if _is_pg(session):
        stmt = stmt.with_for_update()  # one holder's claims take turns, so capacity holds under races
    key = session.scalar(stmt)
    if key is None or not enforce or key.capacity is None:
        return
    if assignment.loads(session, [name])[name] >= key.capacity:
        raise AtCapacity(name, key.capacity)


@dataclass(frozen=True)
class NextWork:
    """What ``claim_next`` found: the claimed task, or why there is none (``away``,
    ``at_capacity``, ``no_queues``, ``nothing``)."""

    task: Task | None
    reason: str
    urgency: int | None = None


MAX_CLAIM_TRIES = 20


def claim_next(session: Session, who: Principal) -> NextWork:
    """Claims the most urgent open task (and its case) the caller may work: in one of their
    queues whose required skills they have, unheld, its case open. Two callers never get the
    same one: the claim is the conditional UPDATE of :func:`_take`, and on PostgreSQL the
    candidate row is taken ``FOR UPDATE SKIP LOCKED`` so racing callers pass each other by."""
    key = auth.find_holder(session, who.name, lock=True)  # one holder's requests take turns
    if key.away:
        return NextWork(None, "away")
    if not assignment.has_room(key, assignment.loads(session, [key.name])[key.name]):
        return NextWork(None, "at_capacity")
    queue_names = assignment.workable_queues(session, key)
    if not queue_names:
        return NextWork(None, "no_queues")
    tried: set[str] = set()
    pg = _is_pg(session)
    while len(tried) < MAX_CLAIM_TRIES:
        ranked = assignment.next_candidates(session, queue_names, utcnow(), skip=tried)
        if not ranked:
            break
        for task_id, case_id, score in ranked:
            tried.add(task_id)
            if pg and not assignment.lock_free(session, task_id):
                continue  # another caller is taking it
            if _take(session, case_id, who.name):
                return _claimed(session, who, task_id, case_id, int(score))
    return NextWork(None, "nothing")


def _claimed(session: Session, who: Principal, task_id: str, case_id: str, score: int) -> NextWork:
    case = get(session, case_id)
    session.refresh(case)
    events.record(
        session,
        "case.claimed",
        case_id=case_id,
        actor=who.name,
        data={"assignee": who.name, "task_id": task_id, "via": "tasks:next", "urgency": score},
    )
    _sync_open_tasks(session, case)
    task = session.get(Task, task_id)
    assert task is not None
    session.refresh(task)
    return NextWork(task, "claimed", score)


def release(session: Session, case_id: str, who: Principal, *, task_id: str | None = None) -> Case:
    case = get(session, case_id, lock=True)
    if case.assignee is None:
        return case
    if case.assignee != who.name and not who.is_supervisor:
        raise CaseHeld(case_id, case.assignee)
    previous = case.assignee
    case.assignee = None
    case.updated_at = utcnow()
    data: dict[str, Any] = {"previous": previous}
    if task_id is not None:
        data["task_id"] = task_id
    events.record(session, "case.released", case_id=case.id, actor=who.name, data=data)
    _sync_open_tasks(session, case)
    return case


def assign(
    session: Session, case_id: str, assignee: str | None, who: Principal, *, task_id: str | None = None
) -> Case:
    """A supervisor (or admin) sets or clears the holder, overriding any claim; not to a CSR at
    capacity (409)."""
    if not who.is_supervisor:
        raise Forbidden("Only a supervisor or admin may assign a case to someone; a CSR claims it instead.")
    if assignee is not None and session.scalar(select(ApiKey.id).where(ApiKey.name == assignee)) is None:
        raise InvalidInput(
            f"No key holder named {assignee!r}; assignees are key names.",
            fields=[{"field": "assignee", "message": "unknown key holder"}],
        )
    case = get(session, case_id, lock=True)
    previous = case.assignee
    if assignee is not None and assignee != previous:
        _check_room(session, assignee)
    case.assignee = assignee
    case.updated_at = utcnow()
    data: dict[str, Any] = {"assignee": assignee, "previous": previous}
    if task_id is not None:
        data["task_id"] = task_id
    events.record(session, "case.assigned", case_id=case.id, actor=who.name, data=data)
    _sync_open_tasks(session, case)
    return case


def _sync_open_tasks(session: Session, case: Case) -> None:
    """Open tasks carry the case's holder, queue and priority (task lists filter on them)."""
    session.execute(
        update(Task)
        .where(Task.case_id == case.id, Task.status == TASK_OPEN)
        .values(assignee=case.assignee, queue=case.queue, priority=case.priority)
        .execution_options(synchronize_session=False)
    )


def surviving(session: Session, case: Case) -> Case:
    """The case itself, or, for a merged case, the case it was merged into (one hop: a merge
    re-points what was merged into the merged case)."""
    if case.merged_into is None:
        return case
    return get(session, case.merged_into)


SORTS: dict[str, list[tuple[Any, bool]]] = {
    "sla_due": [(Case.sla_due_at, False), (Case.id, False)],
    "-created_at": [(Case.created_at, True), (Case.id, True)],
    "created_at": [(Case.created_at, False), (Case.id, False)],
    "priority": [(Case.priority_rank, False), (Case.created_at, False), (Case.id, False)],
    "-urgency": [
        (Case.urgency, True),
        (Case.created_at, False),
        (Case.id, False),
    ],  # most urgent, oldest first
}


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    kind: str | None = None
    queue: str | None = None
    assignee: str | None = None
    priority: str | None = None
    topic: str | None = None
    sla: str | None = None
    q: str | None = None
    stage: str | None = None
    parent_id: str | None = None
    unassigned: bool = False  # assignee=none: nobody holds the case


class InvalidSort(EngineError):
    status = 400

    def __init__(self, sort: str) -> None:
        super().__init__(f"Unknown sort {sort!r}; use one of {', '.join(SORTS)}.")


def list_cases(
    session: Session, flt: CaseFilter, *, sort: str = "sla_due", limit: int = 50, cursor: str | None = None
) -> tuple[list[Case], str | None]:
    if sort not in SORTS:
        raise InvalidSort(sort)
    stmt = select(Case)
    for field in ("status", "kind", "queue", "assignee", "priority", "topic", "stage", "parent_id"):
        value = getattr(flt, field)
        if value is not None:
            stmt = stmt.where(getattr(Case, field) == value)
    if flt.unassigned:
        stmt = stmt.where(Case.assignee.is_(None))
    if flt.sla is not None:
        stmt = _sla_filter(stmt, flt.sla)
    if flt.q:
        stmt = stmt.where(Case.title.ilike(f"%{_escape_like(flt.q)}%", escape="\\"))
    return pagination.fetch(session, stmt, SORTS[sort], cursor, limit)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sla_filter(stmt: Any, sla: str) -> Any:
    """Filters on the SLA state the case's timers stored (see ``engine/cases/escalation.py``)."""
    running = Case.status.in_((transitions.OPEN, transitions.WAITING))
    if sla == "paused":
        return stmt.where(running, Case.sla_paused.is_(True))
    if sla in ("on_track", "at_risk"):
        return stmt.where(running, Case.sla_paused.is_(False), Case.sla_state == sla)
    if sla in ("breached", "met"):
        return stmt.where(Case.sla_state == sla)
    raise InvalidInput(
        f"Unknown sla filter {sla!r}; use on_track, at_risk, breached, paused or met.",
        fields=[{"field": "sla", "message": "unknown value"}],
    )


def sla_state(case: Case) -> str:
    """The SLA state as the case's timers stored it; a waiting case's clock shows paused."""
    if case.sla_paused and case.status not in (transitions.RESOLVED, transitions.CLOSED):
        return "paused"
    return case.sla_state


def by_instance(session: Session, instance_ids: list[str]) -> dict[str, str]:
    """The case each process instance runs for now (a reopened case's earlier instances name none)."""
    if not instance_ids:
        return {}
    stmt = select(Case.process_instance_id, Case.id).where(Case.process_instance_id.in_(instance_ids))
    return {instance_id: case_id for instance_id, case_id in session.execute(stmt) if instance_id}
