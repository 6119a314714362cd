from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Caller, DbSession
from api.incidents.schemas import IncidentOut, IncidentPage, RetryIn
from engine.cases import flows
from engine.incidents import service as incidents
from engine.incidents.models import STATUSES

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
OWNERS = ("process_owner", "supervisor")


@router.get("", response_model=IncidentPage)
def list_incidents(
    caller: Caller,
    session: DbSession,
    status: Annotated[str | None, Query(description=" | ".join(STATUSES))] = None,
    process: Annotated[str | None, Query(max_length=200, description="a process key")] = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> IncidentPage:
    """Incidents, newest first: the tasks of case processes that failed at run time."""
    caller.require(*OWNERS)
    flt = incidents.IncidentFilter(status=status, process_key=process, case_id=case_id)
    rows, next_cursor = incidents.list_incidents(session, flt, limit=limit, cursor=cursor)
    return IncidentPage(items=[IncidentOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: str, caller: Caller, session: DbSession) -> IncidentOut:
    caller.require(*OWNERS)
    return IncidentOut.model_validate(incidents.get(session, incident_id))


@router.post("/{incident_id}:retry", response_model=IncidentOut)
def retry_incident(incident_id: str, body: RetryIn, caller: Caller, session: DbSession) -> IncidentOut:
    """Runs the failed task again (after merging ``data`` and moving onto ``version``, if given);
    the answer is the incident: resolved, or still open with one more attempt and the new error."""
    caller.require(*OWNERS)
    flows.retry(session, incident_id, body.data, body.version, caller)
    return IncidentOut.model_validate(incidents.get(session, incident_id))
