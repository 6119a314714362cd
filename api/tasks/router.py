from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.cases import views
from api.cases.schemas import CaseOut
from api.deps import Caller, DbSession
from api.tasks.schemas import CompleteIn, TaskOut, TaskPage
from engine.cases import flows
from engine.tasks import service as tasks

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
WORKERS = ("csr", "supervisor")


@router.get("", response_model=TaskPage)
def list_tasks(
    caller: Caller,
    session: DbSession,
    assignee: Annotated[str | None, Query(description="a key name, or 'me'")] = None,
    queue: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TaskPage:
    caller.require(*WORKERS)
    who = caller.name if assignee == "me" else assignee
    rows = tasks.list_open(session, assignee=who, queue=queue, case_id=case_id, limit=limit)
    return TaskPage(items=[TaskOut.model_validate(t) for t in rows])


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: str, caller: Caller, session: DbSession) -> TaskOut:
    caller.require(*WORKERS)
    return TaskOut.model_validate(tasks.get(session, task_id))


@router.post("/{task_id}/complete", response_model=CaseOut)
def complete_task(task_id: str, body: CompleteIn, caller: Caller, session: DbSession) -> CaseOut:
    """Completes the task with data that satisfies its form; answers with the case."""
    caller.require(*WORKERS)
    case = flows.complete_task(session, task_id, body.data, caller)
    return views.detail(session, case)
