"""A case's participants (key holders from departments working on it together, as an
investigation's collaborators) and the subtasks assigned to them.

A participant is a person holding an active key (any role but ``integration``), added once per
case with their department. Subtasks are rows of their own, each assigned to a participant and
completed once; the case's process does not wait on them, except that an investigation's
``investigate`` step is refused while any is open (engine/canned/respond.py asks
:func:`require_none_open`). Every change is an event on the case's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import pagination
from engine.auth.models import ApiKey
from engine.auth.service import Principal
from engine.cases import service as cases
from engine.cases.models import Case, CaseParticipant, Subtask
from engine.db import utcnow
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.events import service as events

OPEN, DONE = "open", "done"
STATUSES = (OPEN, DONE)
MAX_PARTICIPANTS = 200  # one case's; the case view lists them all


class AlreadyParticipant(Conflict):
    def __init__(self, case_id: str, user: str) -> None:
        super().__init__(f"{user!r} takes part in case {case_id} already; remove them first to change it.")


class SubtaskDone(Conflict):
    def __init__(self, row: Subtask) -> None:
        super().__init__(f"Subtask {row.id} was completed by {row.completed_by} already.")


class SubtasksOpen(Conflict):
    def __init__(self, case_id: str, count: int) -> None:
        super().__init__(
            f"Case {case_id} has {count} open subtask{'s' if count != 1 else ''}; complete "
            f"{'them' if count != 1 else 'it'} (GET /api/v1/cases/{case_id}/subtasks?status=open) first."
        )
        self.count = count


def _holder(session: Session, name: str, field: str) -> str:
    found = session.scalar(
        select(ApiKey.name).where(
            ApiKey.name == name, ApiKey.revoked_at.is_(None), ApiKey.role != "integration"
        )
    )
    if found is None:
        raise InvalidInput(
            f"{name!r} holds no active key of a person; name a key holder (GET /api/v1/keys).",
            fields=[{"field": field, "message": "no such key holder"}],
        )
    return found


def for_case(session: Session, case_id: str) -> list[CaseParticipant]:
    stmt = (
        select(CaseParticipant)
        .where(CaseParticipant.case_id == case_id)
        .order_by(CaseParticipant.added_at, CaseParticipant.id)
    )
    return list(session.scalars(stmt))


def find(session: Session, case_id: str, user: str) -> CaseParticipant | None:
    stmt = select(CaseParticipant).where(CaseParticipant.case_id == case_id, CaseParticipant.user == user)
    return session.scalars(stmt).first()


def is_participant(session: Session, case_id: str, user: str) -> bool:
    return find(session, case_id, user) is not None


def add(
    session: Session, case_id: str, user: str, department: str, role: str | None, who: Principal
) -> CaseParticipant:
    """``user`` takes part in the case for ``department`` (``role``: their part in it)."""
    case = cases.get(session, case_id, lock=True)
    if not department.strip():
        raise InvalidInput(
            "A participant comes from a department; name it.",
            fields=[{"field": "department", "message": "must not be empty"}],
        )
    name = _holder(session, user, "user")
    if find(session, case.id, name) is not None:
        raise AlreadyParticipant(case.id, name)
    count = session.scalar(select(func.count()).where(CaseParticipant.case_id == case.id)) or 0
    if count >= MAX_PARTICIPANTS:
        raise Conflict(f"Case {case.id} has {MAX_PARTICIPANTS} participants, the most a case takes.")
    row = CaseParticipant(
        case_id=case.id,
        user=name,
        department=department.strip(),
        role=role.strip() if role and role.strip() else None,
        added_by=who.name,
        added_at=utcnow(),
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        "case.participant_added",
        case_id=case.id,
        actor=who.name,
        data={"user": row.user, "department": row.department, "role": row.role},
    )
    return row


def remove(session: Session, case_id: str, user: str, who: Principal) -> None:
    """``user`` no longer takes part; their open subtasks stay theirs (reassign by completing or
    a new subtask), so removing someone with open subtasks is refused."""
    case = cases.get(session, case_id, lock=True)
    row = find(session, case.id, user)
    if row is None:
        raise NotFound("participant of this case", user)
    still = _open_count(session, case.id, assignee=user)
    if still:
        raise Conflict(
            f"{user!r} has {still} open subtask{'s' if still != 1 else ''} on case {case.id}; "
            "they are completed before their assignee leaves the case."
        )
    session.delete(row)
    session.flush()
    events.record(
        session,
        "case.participant_removed",
        case_id=case.id,
        actor=who.name,
        data={"user": row.user, "department": row.department},
    )


def may_work(session: Session, case: Case, who: Principal) -> bool:
    """Supervisors and admins, the case's holder and its participants work on the case."""
    return who.is_supervisor or case.assignee == who.name or is_participant(session, case.id, who.name)


def create_subtask(
    session: Session, case_id: str, title: str, assignee: str, due_at: datetime | None, who: Principal
) -> Subtask:
    """A subtask of the case for one of its participants (by a supervisor or the case's holder)."""
    case = cases.get(session, case_id, lock=True)
    if not (who.is_supervisor or case.assignee == who.name):
        raise Forbidden(
            f"Subtasks of case {case.id} are made by a supervisor or its holder ({case.assignee})."
        )
    if not title.strip():
        raise InvalidInput(
            "A subtask needs a title.", fields=[{"field": "title", "message": "must not be empty"}]
        )
    if find(session, case.id, assignee) is None:
        raise InvalidInput(
            f"{assignee!r} is not a participant of case {case.id}; add them "
            f"(POST /api/v1/cases/{case.id}/participants) first.",
            fields=[{"field": "assignee", "message": "not a participant of the case"}],
        )
    row = Subtask(
        case_id=case.id,
        title=title.strip(),
        assignee=assignee,
        status=OPEN,
        due_at=due_at,
        created_by=who.name,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        "subtask.created",
        case_id=case.id,
        actor=who.name,
        data={
            "subtask_id": row.id,
            "title": row.title,
            "assignee": row.assignee,
            "due_at": due_at.isoformat() if due_at else None,
        },
    )
    return row


def get_subtask(session: Session, subtask_id: str) -> Subtask:
    row = session.get(Subtask, subtask_id)
    if row is None:
        raise NotFound("subtask", subtask_id)
    return row


def complete_subtask(session: Session, subtask_id: str, note: str | None, who: Principal) -> Subtask:
    """The assignee (or a supervisor) completes the subtask, once."""
    row = get_subtask(session, subtask_id)
    cases.get(session, row.case_id, lock=True)  # one completion at a time per case
    session.refresh(row)
    if not (who.is_supervisor or row.assignee == who.name):
        raise Forbidden(f"Subtask {row.id} is {row.assignee}'s; they or a supervisor complete it.")
    if row.status == DONE:
        raise SubtaskDone(row)
    row.status, row.completed_by, row.completed_at = DONE, who.name, utcnow()
    row.note = note.strip() if note and note.strip() else None
    session.flush()
    events.record(
        session,
        "subtask.completed",
        case_id=row.case_id,
        actor=who.name,
        data={"subtask_id": row.id, "title": row.title, "assignee": row.assignee, "note": row.note},
    )
    return row


@dataclass(frozen=True)
class SubtaskFilter:
    case_id: str | None = None
    assignee: str | None = None
    status: str | None = None


ORDER = [(Subtask.created_at, False), (Subtask.id, False)]


def subtasks(
    session: Session, flt: SubtaskFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Subtask], str | None]:
    """A page of subtasks, oldest first."""
    stmt = select(Subtask)
    if flt.case_id is not None:
        cases.get(session, flt.case_id)
        stmt = stmt.where(Subtask.case_id == flt.case_id)
    if flt.assignee is not None:
        stmt = stmt.where(Subtask.assignee == flt.assignee)
    if flt.status is not None:
        stmt = stmt.where(Subtask.status == flt.status)
    return pagination.fetch(session, stmt, ORDER, cursor, limit)


def whose(session: Session, who: Principal, assignee: str) -> str:
    """``me`` is the caller; another's list is for supervisors and admins."""
    if assignee in ("me", who.name):
        return who.name
    if not who.is_supervisor:
        raise Forbidden("One reads one's own subtasks (assignee=me); a supervisor may read anyone's.")
    return assignee


def _open_count(session: Session, case_id: str, *, assignee: str | None = None) -> int:
    stmt = select(func.count()).where(Subtask.case_id == case_id, Subtask.status == OPEN)
    if assignee is not None:
        stmt = stmt.where(Subtask.assignee == assignee)
    return int(session.scalar(stmt) or 0)


def require_none_open(session: Session, case_id: str) -> None:
    """Refuses (409 ``SubtasksOpen``) while the case has open subtasks."""
    count = _open_count(session, case_id)
    if count:
        raise SubtasksOpen(case_id, count)
