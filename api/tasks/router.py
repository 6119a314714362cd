from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.cases import views
from api.cases.schemas import CaseOut
from api.deps import Caller, DbSession
from api.tasks.schemas import AssignIn, CompleteIn, NextTaskOut, TaskOut, TaskPage, WritingLease
from engine.canned import respond
from engine.cases import service as cases
from engine.tasks import service as tasks
from engine.tasks.models import OPEN, Task

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
WORKERS = ("csr", "supervisor")


@router.get("", response_model=TaskPage)
def list_tasks(
    caller: Caller,
    session: DbSession,
    assignee: Annotated[str | None, Query(description="a key name, 'me', or 'none'")] = None,
    queue: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TaskPage:
    caller.require(*WORKERS)
    who = caller.name if assignee == "me" else None if assignee == "none" else assignee
    rows, next_cursor = tasks.list_open(
        session,
        assignee=who,
        unassigned=assignee == "none",
        queue=queue,
        case_id=case_id,
        limit=limit,
        cursor=cursor,
    )
    return TaskPage(items=[_out(t) for t in rows], next_cursor=next_cursor)


@router.post(
    ":next",
    response_model=NextTaskOut,
    responses={204: {"description": "nothing matches; the Sift-Next-Reason header says why"}},
)
def next_task(caller: Caller, session: DbSession, response: Response) -> NextTaskOut | Response:
    """Claims the most urgent open task in the caller's queues and skills (Get Next Work)."""
    caller.require("csr")
    found = cases.claim_next(session, caller)
    if found.task is None:
        return Response(status_code=204, headers={"Sift-Next-Reason": found.reason})
    return NextTaskOut(**_out(found.task).model_dump(), urgency=found.urgency or 0)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: str, caller: Caller, session: DbSession) -> TaskOut:
    caller.require(*WORKERS)
    return _out(tasks.get(session, task_id))


@router.post("/{task_id}/claim", response_model=TaskOut)
def claim_task(task_id: str, caller: Caller, session: DbSession) -> TaskOut:
    """Takes the task, with its case, for the caller; 409 when someone else holds it."""
    caller.require(*WORKERS)
    task = _open_task(session, task_id)
    cases.claim(session, task.case_id, caller, task_id=task.id)
    return _fresh(session, task_id)


@router.post("/{task_id}/release", response_model=TaskOut)
def release_task(task_id: str, caller: Caller, session: DbSession) -> TaskOut:
    """Gives the task, with its case, back to its queue (the holder, or a supervisor)."""
    caller.require(*WORKERS)
    task = _open_task(session, task_id)
    cases.release(session, task.case_id, caller, task_id=task.id)
    return _fresh(session, task_id)


@router.post("/{task_id}/assign", response_model=TaskOut)
def assign_task(task_id: str, body: AssignIn, caller: Caller, session: DbSession) -> TaskOut:
    """A supervisor hands the task, with its case, to someone else (or to nobody)."""
    caller.require("supervisor")
    task = _open_task(session, task_id)
    cases.assign(session, task.case_id, body.assignee, caller, task_id=task.id)
    return _fresh(session, task_id)


@router.post("/{task_id}/writing", response_model=WritingLease)
def start_writing(task_id: str, caller: Caller, session: DbSession) -> WritingLease:
    """The caller is writing on the task (a reply): others see it, and their completion of the
    task is a 409 until the lease lapses. Call again while writing to renew it."""
    caller.require(*WORKERS)
    task = _open_task(session, task_id)
    held = tasks.start_writing(session, task, cases.get(session, task.case_id), caller)
    return WritingLease(
        task_id=task.id, case_id=task.case_id, by=held.by, since=held.since, expires_at=held.until
    )


@router.delete("/{task_id}/writing", status_code=204)
def stop_writing(task_id: str, caller: Caller, session: DbSession) -> Response:
    """The writer stopped without completing (or a supervisor clears their lease)."""
    caller.require(*WORKERS)
    tasks.stop_writing(session, tasks.get(session, task_id), caller)
    return Response(status_code=204)


@router.post("/{task_id}/complete", response_model=CaseOut)
def complete_task(task_id: str, body: CompleteIn, caller: Caller, session: DbSession) -> CaseOut:
    """Completes the task with data that satisfies its form; answers with the case. A respond
    task takes ``canned_reply_id`` (and ``variables``) in place of a written ``reply``."""
    caller.require(*WORKERS)
    case = respond.complete_task(session, task_id, body.data, caller)
    return views.detail(session, case)


def _open_task(session: DbSession, task_id: str) -> Task:
    task = tasks.get(session, task_id)
    if task.status != OPEN:
        raise tasks.TaskNotOpen(task.id, task.status)
    return task


def _fresh(session: DbSession, task_id: str) -> TaskOut:
    task = tasks.get(session, task_id)
    session.refresh(task)
    return _out(task)


def _out(task: Task) -> TaskOut:
    return TaskOut.model_validate(task).model_copy(update={"writing": views.writing_of(task)})
