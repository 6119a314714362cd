"""User tasks: derived from process state, worked through the API.

Task rows mirror the instance's ready user tasks after every change
(:func:`sync`, called by the case's one ``advance`` path in ``engine/cases/flows.py``).
A task's status changes only through :func:`set_status`, which records it on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import CursorResult, Table, or_, select, update
from sqlalchemy.orm import Session

from engine import pagination
from engine.auth.service import Principal
from engine.config import get_settings
from engine.db import insert_later, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events
from engine.processes.models import ProcessInstanceRecord
from engine.tasks.models import CANCELLED, COMPLETED, OPEN, Task

if TYPE_CHECKING:  # tasks sit below cases: a case's flow drives its tasks, never the reverse
    from engine.cases.models import Case


class TaskNotOpen(Conflict):
    def __init__(self, task_id: str, status: str) -> None:
        super().__init__(f"Task {task_id} is {status}, not open; reload the case to see its current tasks.")


class TaskHeld(Conflict):
    def __init__(self, task_id: str, holder: str) -> None:
        super().__init__(
            f"Task {task_id} is held by {holder}; ask them to release it or a supervisor to reassign it."
        )


class TaskBeingWritten(Conflict):
    def __init__(self, task_id: str, writer: str, until: datetime) -> None:
        super().__init__(
            f"{writer} is writing on task {task_id} (until {until.isoformat(timespec='seconds')} "
            "unless they go on); wait for them to finish, or ask them (or a supervisor) to stop "
            "it with DELETE /api/v1/tasks/{id}/writing."
        )


class FormInvalid(InvalidInput):
    """The data does not satisfy the task's form; ``fields`` names each problem."""


def get(session: Session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("task", task_id)
    return task


def for_case(session: Session, case_id: str, *, only_open: bool = True) -> list[Task]:
    stmt = select(Task).where(Task.case_id == case_id)
    if only_open:
        stmt = stmt.where(Task.status == OPEN)
    return list(session.scalars(stmt.order_by(Task.created_at, Task.id)))


OLDEST_FIRST = [(Task.created_at, False), (Task.id, False)]


def list_open(
    session: Session,
    *,
    assignee: str | None = None,
    unassigned: bool = False,
    queue: str | None = None,
    case_id: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[Task], str | None]:
    """A page of open tasks, oldest first, and the cursor of the next page (None on the last)."""
    stmt = select(Task).where(Task.status == OPEN)
    if assignee is not None:
        stmt = stmt.where(Task.assignee == assignee)
    if unassigned:
        stmt = stmt.where(Task.assignee.is_(None))
    if queue is not None:
        stmt = stmt.where(Task.queue == queue)
    if case_id is not None:
        stmt = stmt.where(Task.case_id == case_id)
    return pagination.fetch(session, stmt, OLDEST_FIRST, cursor, limit)


def sync(
    session: Session,
    case: Case,
    record: ProcessInstanceRecord,
    ready: list[Any],
    *,
    new: bool = False,
) -> list[str]:
    """Makes the open task rows of ``record`` match ``ready``, the instance's ready user tasks
    (``ProcessInstance.open_user_tasks``; ``new``: the instance was just started, so it has no
    rows yet); returns the ids of the rows it added. New rows are written with the session's
    next flush (``insert_later``): nothing else in the unit of work that opens them changes them."""
    views = {view.id: view for view in ready}
    rows: dict[str, Task] = {}
    if not new:
        stmt = select(Task).where(Task.instance_id == record.id, Task.status == OPEN)
        rows = {t.id: t for t in session.scalars(stmt)}
    created: list[str] = []
    table = cast(Table, Task.__table__)
    for task_id, view in views.items():
        if task_id in rows:
            continue
        insert_later(
            session,
            table,
            {
                "id": task_id,
                "case_id": case.id,
                "instance_id": record.id,
                "name": view.name,
                "title": view.title,
                "status": OPEN,
                "form": view.form,
                "data": {},
                "queue": case.queue,
                "priority": case.priority,
                "assignee": case.assignee,
                "created_at": utcnow(),
            },
        )
        created.append(task_id)
        events.record(
            session,
            "task.created",
            case_id=case.id,
            data={"task_id": task_id, "name": view.name},
            outbox=False,
        )
    for task_id, task in rows.items():
        if task_id not in views:  # the process moved past it (a boundary event, a gateway, its end)
            set_status(session, task, CANCELLED, actor=None)
    return created


_STATUS_EVENTS = {COMPLETED: "task.completed", CANCELLED: "task.cancelled"}


def set_status(
    session: Session, task: Task, status: str, *, actor: str | None, data: dict[str, Any] | None = None
) -> None:
    """The one way an open task ends: ``completed`` (with the data it was completed with) or
    ``cancelled`` (its process no longer waits on it); either is a timeline event."""
    if task.status != OPEN:
        raise TaskNotOpen(task.id, task.status)
    task.status = status
    task.completed_at = utcnow()
    if status == COMPLETED:
        task.completed_by = actor
        task.data = data or {}
    task.writer = task.writing_since = task.writing_until = None  # whoever wrote, it is done
    events.record(
        session,
        _STATUS_EVENTS[status],
        case_id=task.case_id,
        actor=actor,
        data={"task_id": task.id, "name": task.name},
        outbox=True,  # task.cancelled is delivered too (engine/events/types.py, docs/api.md)
    )


def check_can_complete(task: Task, case: Case, who: Principal) -> None:
    """An open task is completed by its holder (the task's, else the case's), by anyone when
    nobody holds it, or by a supervisor."""
    if task.status != OPEN:
        raise TaskNotOpen(task.id, task.status)
    holder = task.assignee or case.assignee
    if holder is not None and holder != who.name and not who.is_supervisor:
        raise TaskHeld(task.id, holder)


def validate_form(form: dict[str, Any], data: dict[str, Any]) -> None:
    if not form:
        return
    try:
        validator = Draft202012Validator(form)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    except SchemaError as err:  # forms are checked at upload; this is a broken stored definition
        raise InvalidInput(
            "The task's form is not a valid JSON Schema; ask a process owner to fix it."
        ) from err
    if errors:
        fields = [_field_error(e) for e in errors]
        names = ", ".join(f["field"] or "(form)" for f in fields)
        raise FormInvalid(f"The data does not satisfy the task's form; fix: {names}.", fields=fields)


def _field_error(err: Any) -> dict[str, str]:
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else ""
        path = f"{path}.{missing}" if path else missing
        return {"field": path, "message": "is required"}
    if err.validator == "additionalProperties":
        return {"field": path, "message": "has properties the form does not define"}
    if err.validator == "enum":
        return {"field": path, "message": "must be one of: " + ", ".join(map(str, err.validator_value))}
    if err.validator == "type":
        return {"field": path, "message": f"must be of type {err.validator_value}"}
    return {"field": path, "message": f"fails the {err.validator} rule ({err.validator_value!r})"}


@dataclass(frozen=True)
class Writing:
    """Who is writing on an open task, since when, and until when their lease holds."""

    by: str
    since: datetime
    until: datetime


def writing(task: Task, now: datetime | None = None) -> Writing | None:
    """The live writing lease on ``task``, or None (nobody, or the lease lapsed)."""
    if task.status != OPEN or task.writer is None or task.writing_until is None:
        return None
    if task.writing_until <= (now or utcnow()):
        return None
    return Writing(task.writer, task.writing_since or task.writing_until, task.writing_until)


def start_writing(session: Session, task: Task, case: Case, who: Principal) -> Writing:
    """``who`` is writing on the open ``task`` (a reply, a form): a lease of
    ``writing_lease_seconds``, renewed by calling again. Another's live lease is a 409 naming
    them; of two racing callers one wins (a conditional UPDATE). Starting, not renewing, is a
    ``task.writing_started`` event."""
    check_can_complete(task, case, who)
    now = utcnow()
    until = now + timedelta(seconds=get_settings().writing_lease_seconds)
    renewing = writing(task, now) is not None and task.writer == who.name
    since = task.writing_since if renewing and task.writing_since else now
    result = session.execute(
        update(Task)
        .where(
            Task.id == task.id,
            Task.status == OPEN,
            or_(Task.writer.is_(None), Task.writer == who.name, Task.writing_until <= now),
        )
        .values(writer=who.name, writing_since=since, writing_until=until)
        .execution_options(synchronize_session=False)
    )
    session.refresh(task)
    if cast(CursorResult[Any], result).rowcount != 1:
        held = writing(task, now)
        if held is None:  # it closed in between
            raise TaskNotOpen(task.id, task.status)
        raise TaskBeingWritten(task.id, held.by, held.until)
    if not renewing:
        events.record(
            session,
            "task.writing_started",
            case_id=task.case_id,
            actor=who.name,
            data={"task_id": task.id, "name": task.name, "until": until.isoformat()},
        )
    return Writing(who.name, since, until)


def stop_writing(session: Session, task: Task, who: Principal) -> None:
    """Ends the writing lease on ``task``: its writer, or a supervisor, may; nothing to end is
    no change. A ``task.writing_stopped`` event when a live lease ended."""
    held = writing(task)
    if task.writer is None:
        return
    if held is not None and held.by != who.name and not who.is_supervisor:
        raise TaskBeingWritten(task.id, held.by, held.until)
    previous = task.writer
    task.writer = task.writing_since = task.writing_until = None
    if held is not None:
        events.record(
            session,
            "task.writing_stopped",
            case_id=task.case_id,
            actor=who.name,
            data={"task_id": task.id, "name": task.name, "writer": previous},
        )


def check_not_written_by_another(task: Task, who: Principal) -> None:
    """Completing a task someone else is writing on is a 409 naming them, supervisors
    included: two people answering one customer at once is what this prevents."""
    held = writing(task)
    if held is not None and held.by != who.name:
        raise TaskBeingWritten(task.id, held.by, held.until)
