"""API keys (admin): create (shown once), list, revoke, and who did which.

Revocation is ``POST /keys/{id}/revoke``, not ``DELETE /keys/{id}``: the key is not deleted. Its
row stays listable with ``revoked_at``, its name stays reserved (assignees and timeline actors
are key names and must keep meaning one holder), and refusing to revoke the last admin key is a
409 on an action, like ``/claim`` or ``/deploy``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Caller, DbSession
from engine.auth import service as auth
from engine.auth.models import ApiKey

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: str
    skills: list[str] = Field(default_factory=list, max_length=50)
    queues: list[str] = Field(default_factory=list, max_length=50)


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    key: str = Field(description="shown once; only its hash is stored")
    skills: list[str]
    queues: list[str]


class KeyInfo(BaseModel):
    """A key as listed: never the key, its hash or any part of it."""

    id: str
    name: str
    role: str
    skills: list[str]
    queues: list[str]
    created_at: AwareDatetime
    last_used_at: AwareDatetime | None = Field(description="last successful use, to the minute")
    revoked_at: AwareDatetime | None


class KeyList(BaseModel):
    items: list[KeyInfo]


class KeyEvent(BaseModel):
    at: AwareDatetime
    type: str
    actor: str | None
    data: dict[str, Any]


class KeyEvents(BaseModel):
    items: list[KeyEvent]


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        role=key.role,
        skills=key.skills,
        queues=key.queues,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.post("", status_code=201, response_model=KeyOut)
def create_key(body: KeyIn, caller: Caller, session: DbSession) -> KeyOut:
    caller.require("admin")
    key, raw = auth.create_key(
        session, body.name, body.role, skills=body.skills, queues=body.queues, actor=caller.name
    )
    return KeyOut(id=key.id, name=key.name, role=key.role, key=raw, skills=key.skills, queues=key.queues)


@router.get("", response_model=KeyList)
def list_keys(caller: Caller, session: DbSession) -> KeyList:
    """Every key, revoked ones included, oldest first."""
    caller.require("admin")
    return KeyList(items=[_info(k) for k in auth.list_keys(session)])


@router.get("/audit", response_model=KeyEvents)
def key_audit(caller: Caller, session: DbSession) -> KeyEvents:
    """``key.created`` and ``key.revoked`` events with who did it; newest first (the last 100)."""
    caller.require("admin")
    return KeyEvents(
        items=[KeyEvent(at=e.at, type=e.type, actor=e.actor, data=e.data) for e in auth.key_events(session)]
    )


@router.post("/{key_id}/revoke", response_model=KeyInfo)
def revoke_key(
    caller: Caller, session: DbSession, key_id: str = Path(min_length=1, max_length=80)
) -> KeyInfo:
    """Revokes the key at once: its very next request is a 401. Revoking a revoked key changes
    nothing. 409 for the last active admin key (create another admin key first)."""
    caller.require("admin")
    key, _ = auth.revoke_key(session, key_id, actor=caller.name)
    return _info(key)
