"""Records what happened: a timeline line for people, an outbox row for machines.

Both are written in the caller's transaction, so an event exists exactly when
the change it describes was committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import new_id
from engine.events.models import ActivityEvent, OutboxEvent


def record(
    session: Session,
    type: str,
    *,
    case_id: str | None = None,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    outbox: bool = True,
) -> ActivityEvent:
    event = ActivityEvent(id=new_id(), case_id=case_id, type=type, actor=actor, data=data or {})
    session.add(event)
    if outbox:
        session.add(
            OutboxEvent(
                id=event.id,
                type=type,
                case_id=case_id,
                payload={"type": type, "case_id": case_id, "actor": actor, "data": data or {}},
            )
        )
    return event


def timeline(session: Session, case_id: str) -> list[ActivityEvent]:
    stmt = select(ActivityEvent).where(ActivityEvent.case_id == case_id).order_by(ActivityEvent.seq)
    return list(session.scalars(stmt))


def audit_trail(session: Session, type_prefix: str, limit: int = 100) -> list[ActivityEvent]:
    stmt = (
        select(ActivityEvent)
        .where(ActivityEvent.case_id.is_(None), ActivityEvent.type.startswith(type_prefix))
        .order_by(ActivityEvent.seq.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
