from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import Caller, DbSession
from engine.sla import policies

router = APIRouter(prefix="/api/v1/sla", tags=["sla"])


class PolicyOut(BaseModel):
    name: str
    calendar: str
    targets: dict[str, dict[str, str]]
    warning_at: float


class PolicyIn(BaseModel):
    calendar: Any = None
    targets: Any = None
    warning_at: Any = None


class PolicyList(BaseModel):
    items: list[PolicyOut]


def _out(p: policies.Policy) -> PolicyOut:
    return PolicyOut(name=p.name, calendar=p.calendar, targets=p.targets, warning_at=p.warning_at)


@router.get("/policies", response_model=PolicyList)
def list_policies(caller: Caller, session: DbSession) -> PolicyList:
    caller.require("csr", "supervisor", "process_owner")
    return PolicyList(items=[_out(p) for p in policies.list_policies(session)])


@router.get("/policies/{name}", response_model=PolicyOut)
def get_policy(name: str, caller: Caller, session: DbSession) -> PolicyOut:
    caller.require("csr", "supervisor", "process_owner")
    return _out(policies.require(session, name))


@router.put("/policies/{name}", response_model=PolicyOut)
def put_policy(
    body: PolicyIn,
    caller: Caller,
    session: DbSession,
    name: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"),
) -> PolicyOut:
    """Creates or replaces a policy; it applies to cases opened afterwards."""
    caller.require("supervisor")
    return _out(policies.put(session, name, body.model_dump(), actor=caller.name))
