from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import Caller, DbSession
from engine.timers import service as timers
from engine.timers.models import STATUSES

router = APIRouter(prefix="/api/v1/timers", tags=["timers"])
SUPERVISORS = ("supervisor",)


class TimerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    status: str
    due_at: datetime
    case_id: str | None
    instance_id: str | None
    task_id: str | None
    data: dict[str, Any]
    attempts: int
    last_error: str | None
    fired_at: datetime | None
    lateness_ms: float | None


class TimerPage(BaseModel):
    items: list[TimerOut]


@router.get("", response_model=TimerPage)
def list_timers(
    caller: Caller,
    session: DbSession,
    status: Annotated[str | None, Query(description=" | ".join(STATUSES))] = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TimerPage:
    """Timers by due time; ``status=failed`` lists the firings that need a person."""
    caller.require(*SUPERVISORS)
    rows = timers.list_timers(session, status=status, case_id=case_id, limit=limit)
    return TimerPage(items=[TimerOut.model_validate(t) for t in rows])


@router.post("/{timer_id}/retry", response_model=TimerOut)
def retry_timer(timer_id: str, caller: Caller, session: DbSession) -> TimerOut:
    """A failed timer is pending again and due now (after fixing what made it fail)."""
    caller.require(*SUPERVISORS)
    return TimerOut.model_validate(timers.retry(session, timer_id))
