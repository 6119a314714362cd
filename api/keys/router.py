from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Caller, DbSession
from engine.auth import service as auth

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


@router.post("", status_code=201, response_model=KeyOut)
def create_key(body: KeyIn, caller: Caller, session: DbSession) -> KeyOut:
    caller.require("admin")
    key, raw = auth.create_key(
        session, body.name, body.role, skills=body.skills, queues=body.queues, actor=caller.name
    )
    return KeyOut(id=key.id, name=key.name, role=key.role, key=raw, skills=key.skills, queues=key.queues)
