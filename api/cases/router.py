from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.cases import views
from api.cases.schemas import AssignIn, CaseOut, CasePage, CommentIn, CommentOut, Timeline, TimelineItem
from api.deps import Caller, DbSession
from engine.cases import service as cases
from engine.events import service as events

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
WORKERS = ("csr", "supervisor")


@router.get("", response_model=CasePage)
def list_cases(
    caller: Caller,
    session: DbSession,
    status: str | None = None,
    kind: str | None = None,
    queue: str | None = None,
    assignee: Annotated[str | None, Query(description="a key name, 'me', or 'none' (unheld)")] = None,
    priority: str | None = None,
    topic: str | None = None,
    sla: Annotated[str | None, Query(description="on_track | at_risk | breached | paused | met")] = None,
    stage: Annotated[
        str | None, Query(max_length=120, description="e.g. triage, respond, wait_for_customer")
    ] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    parent_id: Annotated[str | None, Query(max_length=32, description="the children of this case")] = None,
    sort: Annotated[str, Query(description="sla_due | -created_at | created_at | priority")] = "sla_due",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> CasePage:
    caller.require(*WORKERS)
    flt = cases.CaseFilter(
        status=status,
        kind=kind,
        queue=queue,
        assignee=caller.name if assignee == "me" else None if assignee == "none" else assignee,
        unassigned=assignee == "none",
        priority=priority,
        topic=topic,
        sla=sla,
        q=q,
        stage=stage,
        parent_id=parent_id,
    )
    rows, next_cursor = cases.list_cases(session, flt, sort=sort, limit=limit, cursor=cursor)
    return CasePage(items=[views.summary(c) for c in rows], next_cursor=next_cursor)


@router.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: str, caller: Caller, session: DbSession) -> CaseOut:
    caller.require(*WORKERS)
    return views.detail(session, cases.get(session, case_id))


@router.get("/{case_id}/timeline", response_model=Timeline)
def get_timeline(case_id: str, caller: Caller, session: DbSession) -> Timeline:
    caller.require(*WORKERS)
    cases.get(session, case_id)
    items = [
        TimelineItem(id=e.id, at=e.at, type=e.type, actor=e.actor, data=e.data)
        for e in events.timeline(session, case_id)
    ]
    return Timeline(items=items)


@router.post("/{case_id}/claim", response_model=CaseOut)
def claim(case_id: str, caller: Caller, session: DbSession) -> CaseOut:
    caller.require(*WORKERS)
    return views.detail(session, cases.claim(session, case_id, caller))


@router.post("/{case_id}/release", response_model=CaseOut)
def release(case_id: str, caller: Caller, session: DbSession) -> CaseOut:
    caller.require(*WORKERS)
    return views.detail(session, cases.release(session, case_id, caller))


@router.post("/{case_id}/assign", response_model=CaseOut)
def assign(case_id: str, body: AssignIn, caller: Caller, session: DbSession) -> CaseOut:
    caller.require("supervisor")
    return views.detail(session, cases.assign(session, case_id, body.assignee, caller))


@router.post("/{case_id}/comments", response_model=CommentOut, status_code=201)
def comment(case_id: str, body: CommentIn, caller: Caller, session: DbSession) -> CommentOut:
    caller.require(*WORKERS)
    return CommentOut(**cases.comment(session, case_id, body.body, caller))
