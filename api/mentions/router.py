"""@mentions: the comments that name a key holder, for that holder to find."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Caller, DbSession
from engine.cases import comments
from engine.cases.models import Mention

router = APIRouter(prefix="/api/v1/mentions", tags=["mentions"])
WORKERS = ("csr", "supervisor")


class MentionOut(BaseModel):
    id: str
    user: str = Field(description="the key holder mentioned")
    case_id: str
    comment_id: str
    author: str
    excerpt: str = Field(description="the comment's first 200 characters, whitespace folded")
    internal: bool
    created_at: AwareDatetime
    read: bool
    read_at: AwareDatetime | None


class MentionPage(BaseModel):
    items: list[MentionOut]
    next_cursor: str | None


def _out(m: Mention) -> MentionOut:
    return MentionOut(
        id=m.id,
        user=m.user,
        case_id=m.case_id,
        comment_id=m.comment_id,
        author=m.author,
        excerpt=m.excerpt,
        internal=m.internal,
        created_at=m.created_at,
        read=m.read_at is not None,
        read_at=m.read_at,
    )


@router.get("", response_model=MentionPage)
def list_mentions(
    caller: Caller,
    session: DbSession,
    user: Annotated[str, Query(max_length=80, description="'me', or a key name (supervisors)")] = "me",
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> MentionPage:
    """The comments that mention ``user``, newest first."""
    caller.require(*WORKERS)
    flt = comments.MentionFilter(user=comments.whose(session, caller, user), unread=unread)
    rows, next_cursor = comments.mentions(session, flt, limit=limit, cursor=cursor)
    return MentionPage(items=[_out(m) for m in rows], next_cursor=next_cursor)


@router.post("/{mention_id}/read", response_model=MentionOut)
def mark_read(mention_id: str, caller: Caller, session: DbSession) -> MentionOut:
    """The mentioned holder has seen it."""
    caller.require(*WORKERS)
    return _out(comments.mark_read(session, mention_id, caller))
