"""Process instances as the workbench reads them: where each waits, what it completed, its data.

Read-only: an instance is restored from its stored state around its version's compiled spec
and looked at, never saved (changes go through the case's flow, engine/cases/flows.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import pagination
from engine.errors import InvalidInput, NotFound
from engine.processes import service as definitions
from engine.processes.models import ProcessInstanceRecord

NEWEST_FIRST = [(ProcessInstanceRecord.created_at, True), (ProcessInstanceRecord.id, True)]
STATUSES = ("running", "incident", "completed")


@dataclass(frozen=True)
class InstanceView:
    record: ProcessInstanceRecord
    completed: list[str]
    active: list[str]
    failed: list[str]
    data: dict[str, Any]

    @property
    def waiting_at(self) -> list[str]:
        """The elements the instance waits at now: active ones, and failed ones (incidents)."""
        return sorted({*self.active, *self.failed})


def view(session: Session, record: ProcessInstanceRecord) -> InstanceView:
    version = definitions.get_version(session, record.process_key, record.process_version)
    compiled = definitions.compiled(version, record.called_versions or {}, session=session)
    instance = compiled.restore(record.state)
    states = instance.element_states()
    return InstanceView(record, states["completed"], states["active"], states["failed"], dict(instance.data))


def get(session: Session, instance_id: str) -> ProcessInstanceRecord:
    record = session.get(ProcessInstanceRecord, instance_id)
    if record is None:
        raise NotFound("process instance", instance_id)
    return record


def list_instances(
    session: Session,
    key: str,
    *,
    version: int | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[ProcessInstanceRecord], str | None]:
    """A page of ``key``'s instances, newest first; ``status`` defaults to the live ones
    (running or held at an incident)."""
    definitions.get_definition(session, key)
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.",
            fields=[{"field": "status", "message": "must be one of " + ", ".join(STATUSES)}],
        )
    stmt = select(ProcessInstanceRecord).where(ProcessInstanceRecord.process_key == key)
    if version is not None:
        stmt = stmt.where(ProcessInstanceRecord.process_version == version)
    wanted = (status,) if status is not None else ("running", "incident")
    stmt = stmt.where(ProcessInstanceRecord.status.in_(wanted))
    return pagination.fetch(session, stmt, NEWEST_FIRST, cursor, limit)


def live_counts(session: Session, key: str) -> dict[int, int]:
    """How many live instances (running or held at an incident) each version of ``key`` has:
    what a bulk migration would look at."""
    stmt = (
        select(ProcessInstanceRecord.process_version, func.count())
        .where(
            ProcessInstanceRecord.process_key == key,
            ProcessInstanceRecord.status.in_(("running", "incident")),
        )
        .group_by(ProcessInstanceRecord.process_version)
    )
    return {int(version): int(n) for version, n in session.execute(stmt)}
