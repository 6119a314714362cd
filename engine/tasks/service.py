"""User tasks: derived from process state, worked through the API.

Task rows mirror the instance's ready user tasks after every change
(:func:`sync`); completing one validates its form, advances the instance and
applies what the task decided to the case, all in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.cases import service as cases
from engine.cases import transitions
from engine.cases.models import Case
from engine.db import utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events
from engine.processes import instances
from engine.processes.context import acting_for
from engine.processes.models import ProcessInstanceRecord
from engine.tasks.models import CANCELLED, COMPLETED, OPEN, Task


class TaskNotOpen(Conflict):
    def __init__(self, task_id: str, status: str) -> None:
        super().__init__(f"Task {task_id} is {status}, not open; reload the case to see its current tasks.")


class TaskHeld(Conflict):
    def __init__(self, task_id: str, holder: str) -> None:
        super().__init__(
            f"Task {task_id} is held by {holder}; ask them to release it or a supervisor to reassign it."
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


def list_open(
    session: Session,
    *,
    assignee: str | None = None,
    queue: str | None = None,
    case_id: str | None = None,
    limit: int = 100,
) -> list[Task]:
    stmt = select(Task).where(Task.status == OPEN)
    if assignee is not None:
        stmt = stmt.where(Task.assignee == assignee)
    if queue is not None:
        stmt = stmt.where(Task.queue == queue)
    if case_id is not None:
        stmt = stmt.where(Task.case_id == case_id)
    return list(session.scalars(stmt.order_by(Task.created_at, Task.id).limit(limit)))


def sync(
    session: Session, case: Case, record: ProcessInstanceRecord, instance: Any, *, new: bool = False
) -> list[Task]:
    """Makes the open task rows of ``record`` match the instance's ready user tasks
    (``new``: the instance was just started, so it has no rows yet)."""
    ready = {view.id: view for view in instance.open_user_tasks()}
    rows: dict[str, Task] = {}
    if not new:
        stmt = select(Task).where(Task.instance_id == record.id, Task.status == OPEN)
        rows = {t.id: t for t in session.scalars(stmt)}
    created: list[Task] = []
    for task_id, view in ready.items():
        if task_id in rows:
            continue
        task = Task(
            id=task_id,
            case_id=case.id,
            instance_id=record.id,
            name=view.name,
            title=view.title,
            form=view.form,
            data={},
            queue=case.queue,
            priority=case.priority,
            assignee=case.assignee,
            created_at=utcnow(),
        )
        session.add(task)
        created.append(task)
        events.record(
            session,
            "task.created",
            case_id=case.id,
            data={"task_id": task_id, "name": view.name},
            outbox=False,
        )
    for task_id, task in rows.items():
        if task_id not in ready:
            task.status = CANCELLED
            task.completed_at = utcnow()
    return created


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


def complete(session: Session, task_id: str, data: dict[str, Any], who: Principal) -> Case:
    """Completes an open task with ``data`` and advances its process."""
    task = get(session, task_id)
    record, instance = instances.load(session, task.instance_id)  # locks the instance
    session.refresh(task)
    if task.status != OPEN:
        raise TaskNotOpen(task_id, task.status)
    case = cases.get(session, task.case_id)
    holder = task.assignee or case.assignee
    if holder is not None and holder != who.name and not who.is_supervisor:
        raise TaskHeld(task_id, holder)
    validate_form(task.form, data)
    with acting_for(session, case, who.name):
        instance.complete_user_task(task_id, data, actor=who.name)
    task.status = COMPLETED
    task.completed_at = utcnow()
    task.completed_by = who.name
    task.data = data
    events.record(
        session,
        "task.completed",
        case_id=case.id,
        actor=who.name,
        data={"task_id": task.id, "name": task.name},
    )
    apply_outcome(session, case, task.name, data, actor=who.name)
    instances.save(record, instance)
    sync(session, case, record, instance)
    if instance.is_completed and case.status not in (transitions.RESOLVED, transitions.CLOSED):
        cases.transition(session, case, transitions.RESOLVED, actor=who.name, data=_resolution(instance.data))
        case.resolution = _resolution(instance.data)
    return case


def apply_outcome(session: Session, case: Case, task_name: str, data: dict[str, Any], *, actor: str) -> None:
    """What a completed task decides about the case itself (triage's priority and topic,
    a reply counting as the first response)."""
    if task_name == "triage":
        cases.update_fields(
            session, case, {"priority": data.get("priority"), "topic": data.get("topic")}, actor=actor
        )
    if task_name == "respond" and data.get("reply"):
        events.record(
            session,
            "reply.sent",
            case_id=case.id,
            actor=actor,
            data={"text": data["reply"], "queue": case.queue},
        )
        cases.mark_first_response(session, case)


def _resolution(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("action") == "dismiss":
        return {"code": "dismissed", "reason": data.get("reason")}
    return {"code": data.get("resolution_code") or "completed", "note": data.get("note")}
