"""Suppression rules: mute an entity or a phrase until an expiry (supervisors and process owners)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import Caller, DbSession
from engine.signals import suppression
from engine.signals.models import SuppressionRule

router = APIRouter(prefix="/api/v1/suppressions", tags=["signals"])
OWNERS = ("supervisor", "process_owner")


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["entity", "phrase"]
    value: str = Field(min_length=1, max_length=200, examples=["@spam_bot", "free followers"])
    expires_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=500)


class SuppressionOut(BaseModel):
    id: str
    kind: str
    value: str
    reason: str | None
    expires_at: datetime
    created_by: str
    created_at: datetime
    matched: int = Field(description="signals this rule has muted so far")


class SuppressionList(BaseModel):
    items: list[SuppressionOut]


def _out(row: SuppressionRule) -> SuppressionOut:
    return SuppressionOut(
        id=row.id,
        kind=row.kind,
        value=row.value,
        reason=row.reason,
        expires_at=row.expires_at,
        created_by=row.created_by,
        created_at=row.created_at,
        matched=row.matched or 0,
    )


@router.post("", status_code=201, response_model=SuppressionOut)
def create_rule(body: SuppressionIn, caller: Caller, session: DbSession) -> SuppressionOut:
    caller.require(*OWNERS)
    rule = suppression.NewRule(
        kind=body.kind, value=body.value, expires_at=body.expires_at, reason=body.reason
    )
    row = suppression.create(session, rule, actor=caller.name)
    session.flush()
    return _out(row)


@router.get("", response_model=SuppressionList)
def list_rules(
    caller: Caller,
    session: DbSession,
    include_expired: Annotated[bool, Query(description="also the rules whose expiry has passed")] = False,
) -> SuppressionList:
    caller.require("csr", *OWNERS)
    return SuppressionList(
        items=[_out(r) for r in suppression.list_rules(session, include_expired=include_expired)]
    )


@router.delete("/{rule_id}", status_code=204)
def delete_rule(rule_id: str, caller: Caller, session: DbSession) -> Response:
    caller.require(*OWNERS)
    suppression.delete(session, rule_id, actor=caller.name)
    return Response(status_code=204)
