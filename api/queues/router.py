"""Queues and the people who work them: settings (supervisor), members with their load, and
each holder's presence and capacity.

A CSR may set their own presence (``PATCH /agents/me {"away": true}``); capacity, skills and
queues are a supervisor's to change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Caller, DbSession
from engine.auth import service as auth
from engine.auth.models import ApiKey
from engine.cases import assignment
from engine.errors import Forbidden
from engine.queues import service as queues
from engine.queues.models import STRATEGIES

router = APIRouter(tags=["queues"])
WORKERS = ("csr", "supervisor")
Name = Annotated[str, Path(min_length=1, max_length=80)]


class AgentOut(BaseModel):
    name: str
    role: str
    skills: list[str]
    queues: list[str]
    capacity: int | None = Field(description="open cases held at once; null: no limit")
    away: bool
    away_since: AwareDatetime | None
    load: int = Field(description="open or waiting cases held now")


class AgentList(BaseModel):
    items: list[AgentOut]


class AgentPatch(BaseModel):
    away: bool | None = None
    capacity: int | None = Field(default=None, ge=0, le=auth.MAX_CAPACITY)
    skills: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=50
    )
    queues: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=50
    )


class QueueIn(BaseModel):
    strategy: str = Field(description=" | ".join(STRATEGIES))
    skills: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class QueueOut(BaseModel):
    name: str
    strategy: str
    skills: list[str]
    members: list[AgentOut]
    updated_at: AwareDatetime | None
    updated_by: str | None


class QueueList(BaseModel):
    items: list[QueueOut]


def _agent(key: ApiKey, load: int) -> AgentOut:
    return AgentOut(
        name=key.name,
        role=key.role,
        skills=list(key.skills),
        queues=list(key.queues),
        capacity=key.capacity,
        away=key.away,
        away_since=key.away_since,
        load=load,
    )


def _workers(session: DbSession) -> list[ApiKey]:
    return [k for k in auth.list_keys(session) if k.revoked_at is None and k.role in WORKERS]


@router.get("/api/v1/agents", response_model=AgentList)
def list_agents(caller: Caller, session: DbSession) -> AgentList:
    """Every active CSR and supervisor key with its presence, capacity and load."""
    caller.require("supervisor")
    return AgentList(items=list_agents_of(session))


def list_agents_of(session: DbSession) -> list[AgentOut]:
    """The agents with their loads (also what the board and the case page show)."""
    keys = _workers(session)
    held = assignment.loads(session, [k.name for k in keys])
    return [_agent(k, held[k.name]) for k in keys]


@router.patch("/api/v1/agents/{name}", response_model=AgentOut)
def update_agent(name: Name, body: AgentPatch, caller: Caller, session: DbSession) -> AgentOut:
    """Presence (``away``) for oneself (``me``) or, for a supervisor, anyone; capacity (null: no
    limit), skills and queues only by a supervisor."""
    caller.require(*WORKERS)
    target = caller.name if name == "me" else name
    sent = body.model_fields_set
    if not caller.is_supervisor and (target != caller.name or sent - {"away"}):
        raise Forbidden(
            'A CSR may set only their own presence (PATCH /api/v1/agents/me {"away": …}); '
            "capacity, skills and queues are a supervisor's to change."
        )
    changes: dict[str, Any] = {k: getattr(body, k) for k in sent if k in ("away", "skills", "queues")}
    if "capacity" in sent:
        changes["capacity"] = body.capacity
    key = auth.update_holder(session, target, actor=caller.name, **changes)
    return _agent(key, assignment.loads(session, [key.name])[key.name])


@router.get("/api/v1/queues", response_model=QueueList)
def list_queues(caller: Caller, session: DbSession) -> QueueList:
    """Every queue a setting or a key names, with its strategy and members."""
    caller.require(*WORKERS)
    keys = _workers(session)
    held = assignment.loads(session, [k.name for k in keys])
    settings = {q.name: q for q in queues.list_all(session)}
    names = sorted(set(settings) | {q for k in keys for q in k.queues})
    items = []
    for name in names:
        queue = settings.get(name)
        members = [_agent(k, held[k.name]) for k in keys if name in k.queues]
        items.append(
            QueueOut(
                name=name,
                strategy=queues.strategy_of(queue),
                skills=list(queue.skills) if queue else [],
                members=members,
                updated_at=queue.updated_at if queue else None,
                updated_by=queue.updated_by if queue else None,
            )
        )
    return QueueList(items=items)


@router.put("/api/v1/queues/{name}", response_model=QueueOut)
def put_queue(
    body: QueueIn, caller: Caller, session: DbSession, name: str = Path(min_length=1, max_length=64)
) -> QueueOut:
    """Sets how the queue hands out work: ``manual``, ``round_robin`` or ``least_loaded``, and
    the skills a member needs to be given it."""
    caller.require("supervisor")
    queue = queues.put(session, name, body.strategy, body.skills, actor=caller.name)
    keys = [k for k in _workers(session) if name in k.queues]
    held = assignment.loads(session, [k.name for k in keys])
    return QueueOut(
        name=name,
        strategy=queue.strategy,
        skills=list(queue.skills),
        members=[_agent(k, held[k.name]) for k in keys],
        updated_at=queue.updated_at,
        updated_by=queue.updated_by,
    )
