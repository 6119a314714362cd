from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.cases import views
from api.cases.schemas import CaseOut
from api.deps import Caller
from api.tasks.schemas import CompleteIn, TaskOut, TaskPage
from engine.db import unit_of_work
from engine.tasks import service as tasks
from engine.tasks.models import Task

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
WORKERS = ("csr", "supervisor")


def to_out(t: Task) -> TaskOut:
    return TaskOut(
        id=t.id,
        case_id=t.case_id,
        name=t.name,
        title=t.title,
        status=t.status,
        assignee=t.assignee,
        queue=t.queue,
        priority=t.priority,
        form=t.form or {},
        data=t.data or {},
        created_at=t.created_at,
        completed_at=t.completed_at,
        completed_by=t.completed_by,
    )


@router.get("", response_model=TaskPage)
def list_tasks(
    caller: Caller,
    assignee: Annotated[str | None, Query(description="a key name, or 'me'")] = None,
    queue: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TaskPage:
    caller.require(*WORKERS)
    who = caller.name if assignee == "me" else assignee
    with unit_of_work() as session:
        rows = tasks.list_open(session, assignee=who, queue=queue, case_id=case_id, limit=limit)
        return TaskPage(items=[to_out(t) for t in rows])


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: str, caller: Caller) -> TaskOut:
    caller.require(*WORKERS)
    with unit_of_work() as session:
        return to_out(tasks.get(session, task_id))


@router.post("/{task_id}/complete", response_model=CaseOut)
def complete_task(task_id: str, body: CompleteIn, caller: Caller) -> CaseOut:
    """Completes the task with data that satisfies its form; answers with the case."""
    caller.require(*WORKERS)
    with unit_of_work() as session:
        case = tasks.complete(session, task_id, body.data, caller)
        return views.detail(session, case)
