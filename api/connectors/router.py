"""Listening connectors (admin): what each listens for and where, its credentials (write-only:
stored encrypted, never shown back, only which names are set) and its status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Caller, DbSession
from engine.connectors import secrets
from engine.connectors import service as connectors
from engine.connectors.models import KINDS, Connector

router = APIRouter(prefix="/api/v1/connectors", tags=["connectors"])
ADMIN = ("admin",)
Id = Annotated[str, Path(min_length=1, max_length=32)]


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(
        default_factory=list, description="brand and product names, matched as whole words"
    )
    handles: list[str] = Field(
        default_factory=list, description="accounts (with or without @; a DID on Bluesky)"
    )
    hashtags: list[str] = Field(default_factory=list, description="without #")
    exclusions: list[str] = Field(default_factory=list, description="a post naming any is dropped")


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    kind: str = Field(description="one of " + ", ".join(KINDS))
    query: QueryIn = Field(default_factory=QueryIn)
    options: dict[str, Any] = Field(
        default_factory=dict, description="where to listen; by kind (docs/api.md)"
    )
    credentials: dict[str, str] | None = Field(default=None, description="write-only; stored encrypted")
    enabled: bool = True


class ConnectorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    query: QueryIn | None = None
    options: dict[str, Any] | None = None
    credentials: dict[str, str] | None = Field(default=None, description="replaces them; null removes them")
    enabled: bool | None = None


class CursorOut(BaseModel):
    stream: str
    value: dict[str, Any]
    updated_at: datetime


class ConnectorOut(BaseModel):
    id: str
    name: str
    kind: str
    query: dict[str, Any]
    options: dict[str, Any]
    credentials: list[str] = Field(description="the names of the stored credentials, never their values")
    enabled: bool
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    status: dict[str, Any]


class ConnectorList(BaseModel):
    items: list[ConnectorOut]


def _out(connector: Connector, cursor_rows: list[Any] | None = None) -> ConnectorOut:
    try:
        names = sorted(secrets.decrypt(connector.credentials))
    except secrets.CredentialsUnreadable:
        names = ["(unreadable with SIFT_CONNECTOR_KEY)"]
    status: dict[str, Any] = {
        "next_run_at": connector.next_run_at if connector.enabled else None,
        "last_run_at": connector.last_run_at,
        "last_success_at": connector.last_success_at,
        "caught_up_at": connector.caught_up_at,
        "lag_seconds": connectors.lag_seconds(connector),
        "last_error": connector.last_error,
        "failures": connector.failures,
        "mentions": connector.mentions,
        "repeats": connector.repeats,
        "running": connector.lease_token is not None,
    }
    if cursor_rows is not None:
        status["cursors"] = [
            CursorOut(stream=c.stream, value=c.value, updated_at=c.updated_at).model_dump()
            for c in cursor_rows
        ]
    return ConnectorOut(
        id=connector.id,
        name=connector.name,
        kind=connector.kind,
        query=connector.query,
        options=connector.options,
        credentials=names,
        enabled=connector.enabled,
        created_at=connector.created_at,
        created_by=connector.created_by,
        updated_at=connector.updated_at,
        status=status,
    )


@router.post("", status_code=201, response_model=ConnectorOut)
def create_connector(body: ConnectorIn, caller: Caller, session: DbSession) -> ConnectorOut:
    """A connector of ``kind`` listening for ``query`` where ``options`` say; it runs when enabled."""
    caller.require(*ADMIN)
    connector = connectors.create(
        session,
        name=body.name,
        kind=body.kind,
        query=body.query.model_dump(),
        options=body.options,
        credentials=body.credentials,
        enabled=body.enabled,
        actor=caller.name,
    )
    session.flush()
    return _out(connector, [])


@router.get("", response_model=ConnectorList)
def list_connectors(caller: Caller, session: DbSession) -> ConnectorList:
    caller.require(*ADMIN)
    return ConnectorList(items=[_out(c) for c in connectors.list_connectors(session)])


@router.get("/{connector_id}", response_model=ConnectorOut)
def get_connector(connector_id: Id, caller: Caller, session: DbSession) -> ConnectorOut:
    """With its cursors: where each stream stands."""
    caller.require(*ADMIN)
    connector = connectors.get(session, connector_id)
    return _out(connector, connectors.cursors(session, connector.id))


@router.patch("/{connector_id}", response_model=ConnectorOut)
def update_connector(
    connector_id: Id, body: ConnectorPatch, caller: Caller, session: DbSession
) -> ConnectorOut:
    caller.require(*ADMIN)
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "query", "options", "enabled"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    connector = connectors.update_connector(session, connector_id, changes, actor=caller.name)
    session.flush()
    return _out(connector, connectors.cursors(session, connector.id))


@router.delete("/{connector_id}", status_code=204)
def delete_connector(connector_id: Id, caller: Caller, session: DbSession) -> None:
    """The connector and its cursors are gone; the signals it brought in stay."""
    caller.require(*ADMIN)
    connectors.remove(session, connector_id, actor=caller.name)
