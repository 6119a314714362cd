"""Records what happened: a timeline line for people, an outbox row for machines.

Both are written in the caller's transaction, so an event exists exactly when
the change it describes was committed. Events are buffered on the session and
written by one Core ``executemany`` right after each flush (after the rows
they refer to) and before every commit: a worker batch records hundreds of
events, and the ORM's per-object bookkeeping was a large share of its time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from engine.db import new_id, utcnow
from engine.events.models import ActivityEvent, OutboxEvent

_PENDING = "sift.pending_events"
_WRITTEN = "sift.written_events"  # session.info: (transaction, type) written and not yet committed
COMMITTED = Counter("sift_events", "Events committed (timeline lines), by type", ["type"])


@dataclass(frozen=True)
class Recorded:
    id: str
    at: datetime
    type: str


def record(
    session: Session,
    type: str,
    *,
    case_id: str | None = None,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    outbox: bool = True,
) -> Recorded:
    row: dict[str, Any] = {
        "id": new_id(),
        "case_id": case_id,
        "at": utcnow(),
        "type": type,
        "actor": actor,
        "data": data or {},
    }
    pending(session).append((row, outbox))
    return Recorded(id=row["id"], at=row["at"], type=type)


def pending(session: Session) -> list[tuple[dict[str, Any], bool]]:
    """Events recorded in this session and not yet written (the worker trims it on undo)."""
    return session.info.setdefault(_PENDING, [])


def write_pending(session: Session) -> None:
    """Writes buffered events now (readers of the timeline in the same transaction)."""
    session.flush()
    _write(session)


def _write(session: Session) -> None:
    buffered = session.info.get(_PENDING)
    if not buffered:
        return
    session.info[_PENDING] = []
    within = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_WRITTEN, []).extend((within, row["type"]) for row, _ in buffered)
    conn = session.connection()
    conn.execute(insert(cast(Table, ActivityEvent.__table__)), [row for row, _ in buffered])
    outbox = [
        {
            "id": row["id"],
            "type": row["type"],
            "case_id": row["case_id"],
            "created_at": row["at"],
            "payload": {
                "type": row["type"],
                "case_id": row["case_id"],
                "actor": row["actor"],
                "data": row["data"],
            },
        }
        for row, deliver in buffered
        if deliver
    ]
    if outbox:
        conn.execute(insert(cast(Table, OutboxEvent.__table__)), outbox)


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _context: Any) -> None:
    _write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # also fires when a savepoint is released, before that flush: flush first, so
    # events land after the rows they refer to
    if session.info.get(_PENDING):
        write_pending(session)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    # also fires when a savepoint is released: only the outermost commit makes events real
    if session.get_nested_transaction() is None:
        for _, type in session.info.pop(_WRITTEN, []):
            COMMITTED.labels(type).inc()


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    written = session.info.get(_WRITTEN)
    if written:
        session.info[_WRITTEN] = [(tx, type) for tx, type in written if not _inside(tx, previous)]


def _inside(tx: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def timeline(session: Session, case_id: str, *, also: Sequence[str] = ()) -> list[ActivityEvent]:
    """The case's events in the order they were recorded, interleaved with those of the cases in
    ``also`` (the cases merged into it)."""
    write_pending(session)
    ids = [case_id, *also]
    stmt = select(ActivityEvent).where(ActivityEvent.case_id.in_(ids)).order_by(ActivityEvent.seq)
    return list(session.scalars(stmt))


def audit_trail(session: Session, type_prefix: str, limit: int = 100) -> list[ActivityEvent]:
    write_pending(session)
    stmt = (
        select(ActivityEvent)
        .where(ActivityEvent.case_id.is_(None), ActivityEvent.type.startswith(type_prefix))
        .order_by(ActivityEvent.seq.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


#: system-wide events a live page shows besides the cases' (presence and queue settings)
LIVE_TYPES = ("agent.updated", "queue.updated")


def last_seq(session: Session) -> int:
    """The newest event's sequence number (0 when there is none): where a live feed starts."""
    return int(session.scalar(select(func.max(ActivityEvent.seq))) or 0)


def live_after(session: Session, seq: int, *, limit: int = 200) -> list[ActivityEvent]:
    """Events after ``seq`` in order that a live page reacts to: every case's, and presence and
    queue changes; never the audit lines (keys, imports)."""
    stmt = (
        select(ActivityEvent)
        .where(
            ActivityEvent.seq > seq,
            ActivityEvent.case_id.is_not(None) | ActivityEvent.type.in_(LIVE_TYPES),
        )
        .order_by(ActivityEvent.seq)
        .limit(limit)
    )
    return list(session.scalars(stmt))
