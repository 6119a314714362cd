"""The signals inbox: durable, idempotent on (source, external_id).

A signal is accepted only by committing its row; the worker picks it up from
there. Re-posting the same (source, external_id) returns the first row and
creates nothing, also when two posts race (the unique constraint decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import pagination
from engine.db import new_id, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.signals.models import FAILED, IGNORED, PENDING, PROCESSED, Signal


@dataclass(frozen=True)
class NewSignal:
    source: str
    external_id: str
    text: str
    author: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    posted_at: datetime | None = None
    in_reply_to: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.external_id)

    def row(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "external_id": self.external_id,
            "text": self.text,
            "author": self.author,
            "url": self.url,
            "posted_at": self.posted_at,
            "in_reply_to": self.in_reply_to,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class Accepted:
    id: str
    status: str
    duplicate: bool


def accept(session: Session, items: list[NewSignal]) -> list[Accepted]:
    """Stores new signals; returns one result per item, in input order.

    An item whose key exists already (stored earlier, or earlier in the same
    list) is reported as a duplicate with the first row's id and status.
    """
    first_of: dict[tuple[str, str], NewSignal] = {}
    for item in items:
        first_of.setdefault(item.key, item)
    now = utcnow()
    rows = {
        key: {**s.row(), "id": new_id(), "received_at": now, "next_attempt_at": now}
        for key, s in first_of.items()
    }
    inserted: set[tuple[str, str]] = set()
    if rows:
        # executemany with RETURNING: one cached statement, batched by the driver layer
        stmt = (
            _insert_for(session)
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(Signal.source, Signal.external_id)
        )
        inserted = {(src, ext) for src, ext in session.execute(stmt, list(rows.values()))}
    stored = {key: (row["id"], PENDING) for key, row in rows.items() if key in inserted}
    earlier = [key for key in first_of if key not in inserted]
    if earlier:
        stmt = select(Signal.source, Signal.external_id, Signal.id, Signal.status).where(
            tuple_(Signal.source, Signal.external_id).in_(earlier)
        )
        stored.update({(src, ext): (sid, status) for src, ext, sid, status in session.execute(stmt)})
    results: list[Accepted] = []
    for item in items:
        sid, status = stored[item.key]
        is_first = first_of[item.key] is item and item.key in inserted
        results.append(Accepted(id=sid, status=status, duplicate=not is_first))
    return results


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    table = cast(Table, Signal.__table__)
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect}")


def get(session: Session, signal_id: str) -> Signal:
    signal = session.get(Signal, signal_id)
    if signal is None:
        raise NotFound("signal", signal_id)
    return signal


STATUSES = (PENDING, PROCESSED, IGNORED, FAILED)
#: newest first; each filter has an index that starts with it and ends with these
NEWEST_FIRST = [(Signal.received_at, True), (Signal.id, True)]


@dataclass(frozen=True)
class SignalFilter:
    status: str | None = None
    source: str | None = None
    since: datetime | None = None  # received at or after
    case_id: str | None = None


def list_signals(
    session: Session, flt: SignalFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Signal], str | None]:
    """A page of signals, newest first, and the cursor of the next page (None on the last)."""
    if flt.status is not None and flt.status not in STATUSES:
        raise InvalidInput(
            f"Unknown status {flt.status!r}; use one of {', '.join(STATUSES)}.",
            fields=[{"field": "status", "message": "must be one of " + ", ".join(STATUSES)}],
        )
    stmt = select(Signal)
    if flt.status is not None:
        stmt = stmt.where(Signal.status == flt.status)
    if flt.source is not None:
        stmt = stmt.where(Signal.source == flt.source)
    if flt.case_id is not None:
        stmt = stmt.where(Signal.case_id == flt.case_id)
    if flt.since is not None:
        stmt = stmt.where(Signal.received_at >= flt.since)
    rows = list(session.scalars(pagination.page(stmt, NEWEST_FIRST, cursor).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pagination.next_cursor(rows[-1], NEWEST_FIRST) if more and rows else None


def for_case(session: Session, case_id: str) -> list[Signal]:
    stmt = select(Signal).where(Signal.case_id == case_id).order_by(Signal.received_at, Signal.id)
    return list(session.scalars(stmt))


# --- the status of a signal -----------------------------------------------------------------
#
# pending ──► processed | ignored     (handled: a case opened or attached, logged, or ignored)
#    │
#    └──► pending (attempt failed, retried after a backoff) ──► … ──► failed (after the last attempt)
#
# These three functions are the only writers of ``Signal.status``.

SETTLED = (PROCESSED, IGNORED)


class SignalNotPending(Conflict):
    def __init__(self, signal_id: str, status: str) -> None:
        super().__init__(f"Signal {signal_id} is {status}, not pending; it was handled already.")


def settle(signal: Signal, status: str, *, case_id: str | None = None) -> None:
    """A pending signal was handled: ``processed`` (with the case it opened or joined) or ``ignored``."""
    if status not in SETTLED:
        raise ValueError(f"a signal settles as processed or ignored, not {status!r}")
    if signal.status != PENDING:
        raise SignalNotPending(signal.id, signal.status)
    signal.status = status
    signal.case_id = case_id
    signal.error = None
    signal.processed_at = utcnow()


def record_failure(signal: Signal, error: str, *, max_attempts: int, retry_base_seconds: float) -> bool:
    """Counts a failed attempt: the signal stays pending until a backoff passes, or becomes
    ``failed`` with its error after ``max_attempts``. Returns whether it failed for good."""
    if signal.status != PENDING:
        raise SignalNotPending(signal.id, signal.status)
    signal.attempts = (signal.attempts or 0) + 1
    signal.error = error[:2000]
    if signal.attempts >= max_attempts:
        signal.status = FAILED
        return True
    backoff = retry_base_seconds * (2 ** (signal.attempts - 1))
    signal.next_attempt_at = utcnow() + timedelta(seconds=backoff)
    return False
