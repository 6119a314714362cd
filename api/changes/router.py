"""Change requests an investigation opens, their replay tests and approval; bulk migration of a
process's running instances from one version to another."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import Caller, DbSession
from engine.changes import migration
from engine.changes import service as changes
from engine.changes.models import ChangeRequest

router = APIRouter(tags=["change requests"])
READERS = ("csr", "supervisor", "process_owner")
TESTERS = ("supervisor", "process_owner")
Id = Annotated[str, Path(max_length=64)]


class ChangeRequestOut(BaseModel):
    id: str
    case_id: str = Field(description="the investigation that asked for it")
    process_key: str
    description: str
    status: str = Field(description="requested | approved | deployed")
    version: int | None = Field(description="the version approved, then deployed")
    tested_version: int | None
    test_report: dict[str, Any] | None = Field(description="the last replay test's report")
    requested_by: str
    approved_by: str | None
    created_at: AwareDatetime
    tested_at: AwareDatetime | None
    approved_at: AwareDatetime | None
    deployed_at: AwareDatetime | None


class ChangeRequestList(BaseModel):
    items: list[ChangeRequestOut]


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class HistoryReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: Annotated[StrictInt, Field(ge=1, le=changes.MAX_REPLAYED)] = changes.RECENT_REPLAYED


class MigrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_version: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    to_version: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    dry_run: StrictBool = True


def change_request_out(row: ChangeRequest) -> ChangeRequestOut:
    return ChangeRequestOut(
        id=row.id,
        case_id=row.case_id,
        process_key=row.process_key,
        description=row.description,
        status=row.status,
        version=row.version,
        tested_version=row.tested_version,
        test_report=row.test_report,
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        created_at=row.created_at,
        tested_at=row.tested_at,
        approved_at=row.approved_at,
        deployed_at=row.deployed_at,
    )


@router.get("/api/v1/cases/{case_id}/change-requests", response_model=ChangeRequestList)
def list_for_case(case_id: Id, caller: Caller, session: DbSession) -> ChangeRequestList:
    """The change requests an investigation opened, oldest first."""
    caller.require(*READERS)
    return ChangeRequestList(items=[change_request_out(r) for r in changes.for_case(session, case_id)])


@router.get("/api/v1/change-requests/{request_id}", response_model=ChangeRequestOut)
def get_change_request(request_id: Id, caller: Caller, session: DbSession) -> ChangeRequestOut:
    caller.require(*READERS)
    return change_request_out(changes.get(session, request_id))


@router.post("/api/v1/change-requests/{request_id}/replay-test", response_model=ChangeRequestOut)
def replay_test(request_id: Id, body: VersionIn, caller: Caller, session: DbSession) -> ChangeRequestOut:
    """Replays the investigation's linked signals against ``version`` and the deployed version
    in rolled-back savepoints (no case stays); the report is on the request."""
    caller.require(*TESTERS)
    return change_request_out(changes.replay_test(session, request_id, body.version, caller))


@router.post("/api/v1/change-requests/{request_id}/approve", response_model=ChangeRequestOut)
def approve(request_id: Id, body: VersionIn, caller: Caller, session: DbSession) -> ChangeRequestOut:
    """A process owner approves the replay-tested draft ``version``; deploying it through
    ``POST /api/v1/processes/{key}/versions/{n}/deploy`` completes the request."""
    caller.require("process_owner")
    return change_request_out(changes.approve(session, request_id, body.version, caller))


@router.post("/api/v1/processes/{key}/versions/{number}/replay-test")
def replay_history(
    key: Annotated[str, Path(max_length=200)],
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    caller: Caller,
    session: DbSession,
    body: HistoryReplayIn | None = None,
) -> dict[str, Any]:
    """Replays the opening signals of the process's ``limit`` most recent cases against version
    ``number`` and the deployed version in rolled-back savepoints; the report is returned, not
    stored (a change request's replay test stores its own)."""
    caller.require(*TESTERS)
    return changes.replay_recent(session, key, number, (body or HistoryReplayIn()).limit)


@router.post("/api/v1/processes/{key}/migrations")
def migrate(
    key: Annotated[str, Path(max_length=200)], body: MigrationIn, caller: Caller, session: DbSession
) -> dict[str, Any]:
    """Which running instances of ``from_version`` can move onto ``to_version`` and which cannot
    (and why); with ``dry_run`` false the movable ones are moved."""
    caller.require("process_owner")
    return migration.run(
        session, key, body.from_version, body.to_version, apply=not body.dry_run, actor=caller.name
    )
