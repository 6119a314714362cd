"""Canned replies: supervisors manage the templates; CSRs read them and preview one on a case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Caller, DbSession
from engine.canned import respond, service, templates
from engine.canned.models import CannedReply

router = APIRouter(prefix="/api/v1/canned-replies", tags=["canned replies"])
READERS = ("csr", "supervisor")
MANAGERS = ("supervisor",)


class CannedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["Delivery delay"])
    body: str = Field(
        min_length=1,
        max_length=5000,
        examples=["Hi {{customer.name}}, sorry about {{order_id|your order}}. Case {{case.id}}."],
    )
    tags: list[str] = Field(default_factory=list, max_length=20)
    language: str | None = Field(default=None, max_length=8, examples=["en"])


class CannedReplyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    body: str | None = Field(default=None, min_length=1, max_length=5000)
    tags: list[str] | None = Field(default=None, max_length=20)
    language: str | None = Field(default=None, max_length=8, description='"" clears it')


class CannedReplyOut(BaseModel):
    id: str
    name: str
    body: str
    variables: list[str] = Field(description="the variables the body uses, in order of first use")
    tags: list[str]
    language: str | None
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None


class CannedReplyList(BaseModel):
    items: list[CannedReplyOut]


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(min_length=1, max_length=32)
    variables: dict[str, str] | None = None


class RenderOut(BaseModel):
    canned_reply_id: str
    case_id: str
    text: str
    values: dict[str, str] = Field(description="the variables the body uses that had a value, as filled in")


def _out(row: CannedReply) -> CannedReplyOut:
    return CannedReplyOut(
        id=row.id,
        name=row.name,
        body=row.body,
        variables=templates.variables_of(row.body),
        tags=list(row.tags),
        language=row.language,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


@router.post("", status_code=201, response_model=CannedReplyOut)
def create(body: CannedReplyIn, caller: Caller, session: DbSession) -> CannedReplyOut:
    caller.require(*MANAGERS)
    changes = service.Changes(name=body.name, body=body.body, tags=body.tags, language=body.language or "")
    return _out(service.create(session, changes, actor=caller.name))


@router.get("", response_model=CannedReplyList)
def list_all(
    caller: Caller,
    session: DbSession,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    language: Annotated[str | None, Query(max_length=8)] = None,
    q: Annotated[str | None, Query(max_length=100, description="a part of the name")] = None,
) -> CannedReplyList:
    caller.require(*READERS)
    rows = service.list_replies(session, tag=tag, language=language, q=q)
    return CannedReplyList(items=[_out(r) for r in rows])


@router.get("/{reply_id}", response_model=CannedReplyOut)
def get_one(reply_id: str, caller: Caller, session: DbSession) -> CannedReplyOut:
    caller.require(*READERS)
    return _out(service.get(session, reply_id))


@router.patch("/{reply_id}", response_model=CannedReplyOut)
def update(reply_id: str, body: CannedReplyPatch, caller: Caller, session: DbSession) -> CannedReplyOut:
    caller.require(*MANAGERS)
    changes = service.Changes(name=body.name, body=body.body, tags=body.tags, language=body.language)
    return _out(service.update(session, reply_id, changes, actor=caller.name))


@router.delete("/{reply_id}", status_code=204)
def delete(reply_id: str, caller: Caller, session: DbSession) -> Response:
    caller.require(*MANAGERS)
    service.delete(session, reply_id, actor=caller.name)
    return Response(status_code=204)


@router.post("/{reply_id}:render", response_model=RenderOut)
def render(reply_id: str, body: RenderIn, caller: Caller, session: DbSession) -> RenderOut:
    """The reply as it would go to the case's customer now (nothing is written)."""
    caller.require(*READERS)
    rendered = respond.preview(session, reply_id, body.case_id, caller, body.variables)
    return RenderOut(
        canned_reply_id=reply_id, case_id=body.case_id, text=rendered.text, values=rendered.values
    )
