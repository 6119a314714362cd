"""Incidents follow the failed tasks of a case's process.

:func:`sync` is called by the case's flow (``engine/cases/flows.py``) after every action, in its
transaction: each failure the action ran into opens an incident (or counts another attempt of
one already open for that task), and an open incident whose task is no longer failed is
resolved. Nothing else writes incidents; a retry is an action of the flow like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import pagination
from engine.db import new_id, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events
from engine.incidents.models import OPEN, RESOLVED, STATUSES, Incident

NEWEST_FIRST = [(Incident.opened_at, True), (Incident.id, True)]
RETRIED, MOVED_ON = "retried", "moved_on"


class IncidentResolved(Conflict):
    def __init__(self, incident_id: str) -> None:
        super().__init__(
            f"Incident {incident_id} is already resolved; nothing waits at its element. "
            "List open incidents with GET /api/v1/incidents?status=open."
        )


@dataclass(frozen=True)
class Failure:
    """What the runtime reports about one failed task (see engine.runtime.FailureView)."""

    task_id: str
    element_id: str
    title: str
    error: str
    message: str


@dataclass(frozen=True)
class Where:
    case_id: str
    instance_id: str
    process_key: str
    process_version: int


def sync(
    session: Session,
    where: Where,
    failures: Iterable[Failure],
    still_failed: set[str],
    *,
    actor: str,
    retried: str | None = None,
) -> None:
    """Opens or counts an incident per failure; resolves open ones whose task is no longer
    failed (``retried``: the task id a retry just ran, resolved as ``retried``)."""
    open_rows = {row.task_id: row for row in open_for_instance(session, where.instance_id)}
    now = utcnow()
    for failure in failures:
        row = open_rows.get(failure.task_id)
        if row is None:
            open_rows[failure.task_id] = _open(session, where, failure, actor=actor)
            continue
        row.attempts += 1
        row.error, row.message, row.last_failed_at = failure.error, failure.message, now
        row.process_version = where.process_version
    for task_id, row in open_rows.items():
        if task_id in still_failed:
            continue
        _resolve(session, row, RETRIED if task_id == retried else MOVED_ON, actor=actor)


def _open(session: Session, where: Where, failure: Failure, *, actor: str) -> Incident:
    row = Incident(
        id=new_id(),
        case_id=where.case_id,
        instance_id=where.instance_id,
        process_key=where.process_key,
        process_version=where.process_version,
        task_id=failure.task_id,
        element_id=failure.element_id[:200],
        element_name=failure.title[:300] if failure.title != failure.element_id else None,
        error=failure.error[:64],
        message=failure.message[:2000],
        status=OPEN,
        attempts=1,
        opened_at=utcnow(),
        last_failed_at=utcnow(),
    )
    session.add(row)
    events.record(
        session,
        "incident.opened",
        case_id=where.case_id,
        actor=actor,
        data=_event_data(row),
    )
    return row


def _resolve(session: Session, row: Incident, resolution: str, *, actor: str) -> None:
    row.status, row.resolution = RESOLVED, resolution
    row.resolved_at, row.resolved_by = utcnow(), actor
    events.record(
        session,
        "incident.resolved",
        case_id=row.case_id,
        actor=actor,
        data={**_event_data(row), "resolution": resolution},
    )


def _event_data(row: Incident) -> dict[str, Any]:
    return {
        "incident_id": row.id,
        "process_key": row.process_key,
        "process_version": row.process_version,
        "element_id": row.element_id,
        "error": row.error,
        "attempts": row.attempts,
    }


def open_for_instance(session: Session, instance_id: str) -> list[Incident]:
    stmt = select(Incident).where(Incident.instance_id == instance_id, Incident.status == OPEN)
    return list(session.scalars(stmt.order_by(Incident.opened_at, Incident.id)))


def for_case(session: Session, case_id: str) -> list[Incident]:
    """Every incident of the case, newest first."""
    stmt = select(Incident).where(Incident.case_id == case_id)
    return list(session.scalars(stmt.order_by(Incident.opened_at.desc(), Incident.id.desc())))


def for_instance(session: Session, instance_id: str) -> list[Incident]:
    stmt = select(Incident).where(Incident.instance_id == instance_id)
    return list(session.scalars(stmt.order_by(Incident.opened_at.desc(), Incident.id.desc())))


def get(session: Session, incident_id: str) -> Incident:
    row = session.get(Incident, incident_id)
    if row is None:
        raise NotFound("incident", incident_id)
    return row


def get_open(session: Session, incident_id: str) -> Incident:
    """The incident, which must still be open (409 otherwise)."""
    row = get(session, incident_id)
    if row.status != OPEN:
        raise IncidentResolved(incident_id)
    return row


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None
    process_key: str | None = None
    case_id: str | None = None


def list_incidents(
    session: Session, flt: IncidentFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Incident], str | None]:
    """A page of incidents, newest first, and the cursor of the next page (None on the last)."""
    if flt.status is not None and flt.status not in STATUSES:
        raise InvalidInput(
            f"Unknown status {flt.status!r}; use one of {', '.join(STATUSES)}.",
            fields=[{"field": "status", "message": "must be one of " + ", ".join(STATUSES)}],
        )
    stmt = select(Incident)
    if flt.status is not None:
        stmt = stmt.where(Incident.status == flt.status)
    if flt.process_key is not None:
        stmt = stmt.where(Incident.process_key == flt.process_key)
    if flt.case_id is not None:
        stmt = stmt.where(Incident.case_id == flt.case_id)
    return pagination.fetch(session, stmt, NEWEST_FIRST, cursor, limit)
