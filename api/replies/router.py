"""Outbound replies and their delivery status (csr, supervisor); retrying a failed one (supervisor)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from api.deps import Caller, DbSession
from engine.delivery import replies
from engine.delivery.models import REPLY_STATUSES

router = APIRouter(prefix="/api/v1/replies", tags=["replies"])


class ReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    channel: str
    in_reply_to: str | None
    text: str
    actor: str | None
    status: str
    held_reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    external_id: str | None
    canned_reply_id: str | None
    created_at: datetime
    sent_at: datetime | None


class ReplyList(BaseModel):
    items: list[ReplyOut]


@router.get("", response_model=ReplyList)
def list_replies(
    caller: Caller,
    session: DbSession,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(description=" | ".join(REPLY_STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReplyList:
    """Newest first; ``status=queued`` with ``held_reason`` set shows replies no adapter can send."""
    caller.require("csr", "supervisor")
    rows = replies.list_replies(session, case_id=case_id, status=status, limit=limit)
    return ReplyList(items=[ReplyOut.model_validate(r) for r in rows])


@router.post("/{reply_id}:retry", response_model=ReplyOut)
def retry_reply(
    caller: Caller, session: DbSession, reply_id: Annotated[str, Path(min_length=1, max_length=32)]
) -> ReplyOut:
    """A failed reply is queued again, due now; 409 unless it had failed."""
    caller.require("supervisor")
    return ReplyOut.model_validate(replies.retry(session, reply_id, actor=caller.name))
