"""Process instances for the workbench: where each waits, and one seen on its diagram."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Caller, DbSession
from api.incidents.schemas import IncidentOut
from api.timers.router import TimerOut
from engine.cases import service as cases
from engine.incidents import service as incidents
from engine.processes import monitor
from engine.timers import service as timers

router = APIRouter(tags=["processes"])
OWNERS = ("process_owner", "supervisor")


class InstanceSummary(BaseModel):
    id: str
    process_key: str
    process_version: int
    status: str = Field(description="running | incident | completed")
    case_id: str | None
    waiting_at: list[str] = Field(description="element ids of the tasks it waits at (ready, waiting, failed)")
    called_versions: dict[str, int]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class InstancePage(BaseModel):
    items: list[InstanceSummary]
    next_cursor: str | None


class InstanceOut(InstanceSummary):
    completed: list[str] = Field(description="element ids completed at least once")
    active: list[str] = Field(description="element ids ready, started or waiting now")
    failed: list[str] = Field(description="element ids held at an incident")
    data: dict[str, Any]
    timers: list[TimerOut]
    incidents: list[IncidentOut]


def _summary(view: monitor.InstanceView, case_id: str | None) -> dict[str, Any]:
    record = view.record
    return {
        "id": record.id,
        "process_key": record.process_key,
        "process_version": record.process_version,
        "status": record.status,
        "case_id": case_id,
        "waiting_at": view.waiting_at,
        "called_versions": record.called_versions or {},
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


@router.get("/api/v1/processes/{key}/instances", response_model=InstancePage)
def list_instances(
    key: str,
    caller: Caller,
    session: DbSession,
    version: Annotated[int | None, Query(ge=1)] = None,
    status: Annotated[str | None, Query(description=" | ".join(monitor.STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> InstancePage:
    """The instances of a process, newest first (default: running or held at an incident)."""
    caller.require(*OWNERS)
    rows, next_cursor = monitor.list_instances(
        session, key, version=version, status=status, limit=limit, cursor=cursor
    )
    case_of = cases.by_instance(session, [r.id for r in rows])
    items = [InstanceSummary(**_summary(monitor.view(session, r), case_of.get(r.id))) for r in rows]
    return InstancePage(items=items, next_cursor=next_cursor)


@router.get("/api/v1/instances/{instance_id}", response_model=InstanceOut)
def get_instance(instance_id: str, caller: Caller, session: DbSession) -> InstanceOut:
    """One instance as its diagram shows it: completed, active and failed elements, its data,
    its BPMN timers and its incidents."""
    caller.require(*OWNERS)
    record = monitor.get(session, instance_id)
    view = monitor.view(session, record)
    case_id = cases.by_instance(session, [record.id]).get(record.id)
    found = timers.list_timers(session, case_id=case_id, limit=500) if case_id else []
    return InstanceOut(
        **_summary(view, case_id),
        completed=view.completed,
        active=view.active,
        failed=view.failed,
        data=view.data,
        timers=[TimerOut.model_validate(t) for t in found if t.instance_id == record.id],
        incidents=[IncidentOut.model_validate(i) for i in incidents.for_instance(session, record.id)],
    )
