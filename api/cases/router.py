from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.cases import views
from api.cases.schemas import (
    AssignIn,
    CaseOut,
    CasePage,
    CommentIn,
    CommentOut,
    CommentPage,
    LinkIn,
    LinkList,
    LinkOut,
    MergeIn,
    Timeline,
    TimelineItem,
)
from api.deps import Caller, DbSession
from engine.canned import respond
from engine.cases import comments, links, merge, participants
from engine.cases import service as cases
from engine.events import service as events

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
WORKERS = ("csr", "supervisor")


class BulkReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_ids: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        description=f"1 to {respond.MAX_BULK} case ids, each once"
    )
    text: str | None = Field(default=None, min_length=1, max_length=5000)
    canned_reply_id: str | None = Field(default=None, max_length=32)
    variables: dict[str, str] | None = None
    then: Literal["resolve", "wait"] | None = None


class BulkResultOut(BaseModel):
    case_id: str
    status: Literal["ok", "error"]
    task_id: str | None
    reply_id: str | None
    case_status: str | None
    error: str | None = Field(description="the error code when this case was not replied to")
    detail: str | None


class BulkReplyOut(BaseModel):
    results: list[BulkResultOut]
    ok: int
    failed: int


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
    """The case's events, oldest first, with those of the cases merged into it."""
    caller.require(*WORKERS)
    cases.get(session, case_id)
    merged = merge.merged_into(session, case_id)
    items = [
        TimelineItem(id=e.id, case_id=e.case_id or case_id, at=e.at, type=e.type, actor=e.actor, data=e.data)
        for e in events.timeline(session, case_id, also=merged)
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
    """A comment (``internal``: a note) for the team; never sent to the customer. Its @mentions
    of key holders reach them at GET /api/v1/mentions?user=me. The case's participants (of any
    role) may comment too."""
    if not participants.is_participant(session, case_id, caller.name):
        caller.require(*WORKERS)
    return views.comment(comments.add(session, case_id, body.body, caller, internal=body.internal))


@router.get("/{case_id}/comments", response_model=CommentPage)
def list_comments(
    case_id: str,
    caller: Caller,
    session: DbSession,
    internal: Annotated[bool | None, Query(description="true: only notes; false: only the others")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> CommentPage:
    caller.require(*WORKERS)
    rows, next_cursor = comments.for_case(session, case_id, internal=internal, limit=limit, cursor=cursor)
    return CommentPage(items=[views.comment(c) for c in rows], next_cursor=next_cursor)


@router.post("/{case_id}/links", response_model=LinkOut, status_code=201)
def add_link(case_id: str, body: LinkIn, caller: Caller, session: DbSession) -> LinkOut:
    caller.require(*WORKERS)
    return views.link(links.add(session, case_id, body.type, body.case_id, caller))


@router.get("/{case_id}/links", response_model=LinkList)
def list_links(case_id: str, caller: Caller, session: DbSession) -> LinkList:
    caller.require(*WORKERS)
    return LinkList(items=[views.link(v) for v in links.for_case(session, case_id)])


@router.delete("/{case_id}/links/{link_id}", status_code=204)
def delete_link(case_id: str, link_id: str, caller: Caller, session: DbSession) -> Response:
    caller.require(*WORKERS)
    links.remove(session, case_id, link_id, caller)
    return Response(status_code=204)


@router.post("/{case_id}:merge", response_model=CaseOut)
def merge_case(case_id: str, body: MergeIn, caller: Caller, session: DbSession) -> CaseOut:
    """Merges this case into ``into``; answers with the surviving case."""
    caller.require(*WORKERS)
    return views.detail(session, merge.merge(session, case_id, body.into, caller))


@router.post(":bulk-reply", response_model=BulkReplyOut)
def bulk_reply(body: BulkReplyIn, caller: Caller, session: DbSession) -> BulkReplyOut:
    """Completes the respond task of each case with one reply (a text, or a canned reply rendered
    per case); each case succeeds or fails alone, in input order."""
    caller.require(*WORKERS)
    request = respond.BulkReply(
        case_ids=body.case_ids,
        text=body.text,
        canned_reply_id=body.canned_reply_id,
        variables=body.variables,
        then=body.then,
    )
    results = [
        BulkResultOut(
            case_id=r.case_id,
            status="ok" if r.ok else "error",
            task_id=r.task_id,
            reply_id=r.reply_id,
            case_status=r.case_status,
            error=r.error,
            detail=r.detail,
        )
        for r in respond.bulk_reply(session, request, caller)
    ]
    ok = sum(r.status == "ok" for r in results)
    return BulkReplyOut(results=results, ok=ok, failed=len(results) - ok)
