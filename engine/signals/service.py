"""The signals inbox: durable, idempotent on (source, external_id).

A signal is accepted only by committing its row; the worker picks it up from
there. Re-posting the same (source, external_id) returns the first row and
creates nothing, also when two posts race (the unique constraint decides).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import Table, event, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import pagination
from engine.db import new_id, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.signals.models import BUFFERED, FAILED, IGNORED, PENDING, PROCESSED, Signal

_ACCEPTED = "sift.signals.accepted"  # session.info: new signals stored in this transaction
ACCEPTED = Counter("sift_signals_accepted", "New signals stored by the inbox (repeats of a key not counted)")


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
            "dedup_key": dedup_key(self.source, self.author, self.text, self.in_reply_to),
        }


def dedup_key(source: str, author: dict[str, Any], text: str, in_reply_to: str | None = None) -> str | None:
    """What makes two signals "the same text from the same author": the source, the author's
    handle (or id), the post they reply to (a "yes" to two questions is two answers) and the
    text with case and whitespace folded. None without an author."""
    who = author.get("handle") or author.get("id")
    if not who:
        return None
    folded = " ".join(text.casefold().split())
    key = f"{source}\x1f{str(who).casefold()}\x1f{in_reply_to or ''}\x1f{folded}"
    return hashlib.sha256(key.encode()).hexdigest()


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
    if inserted:
        session.info[_ACCEPTED] = session.info.get(_ACCEPTED, 0) + len(inserted)
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


@event.listens_for(Session, "after_commit")
def _count_accepted(session: Session) -> None:
    if session.get_nested_transaction() is None and (n := session.info.pop(_ACCEPTED, 0)):
        ACCEPTED.inc(n)


@event.listens_for(Session, "after_rollback")
def _forget_accepted(session: Session) -> None:
    session.info.pop(_ACCEPTED, None)


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


STATUSES = (PENDING, BUFFERED, PROCESSED, IGNORED, FAILED)
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
    return pagination.fetch(session, stmt, NEWEST_FIRST, cursor, limit)


def for_case(session: Session, case_id: str) -> list[Signal]:
    stmt = select(Signal).where(Signal.case_id == case_id).order_by(Signal.received_at, Signal.id)
    return list(session.scalars(stmt))


# --- the status of a signal -----------------------------------------------------------------
#
# pending ──► processed | ignored     (handled: a case opened or attached, logged, or ignored)
#    │    └─► buffered (a reply whose parent has not arrived) ──► processed | ignored
#    │          (when the parent is handled, or alone when the buffer window ends)
#    └──► pending (attempt failed, retried after a backoff) ──► … ──► failed (after the last attempt)
#
# These four functions are the only writers of ``Signal.status``.

SETTLED = (PROCESSED, IGNORED)
HANDLING = (PENDING, BUFFERED)


class SignalNotPending(Conflict):
    def __init__(self, signal_id: str, status: str) -> None:
        super().__init__(f"Signal {signal_id} is {status}, not pending; it was handled already.")


def settle(
    signal: Signal, status: str, *, case_id: str | None = None, duplicate_of: str | None = None
) -> None:
    """A pending (or buffered) signal was handled: ``processed`` (with the case it opened or
    joined) or ``ignored`` (with the case of the signal it duplicates, if any)."""
    if status not in SETTLED:
        raise ValueError(f"a signal settles as processed or ignored, not {status!r}")
    if signal.status not in HANDLING:
        raise SignalNotPending(signal.id, signal.status)
    signal.status = status
    signal.case_id = case_id
    signal.duplicate_of = duplicate_of
    signal.error = None
    signal.processed_at = utcnow()


def buffer(session: Session, signal: Signal, until: datetime) -> None:
    """A reply arrived before its parent: it waits, ``buffered``, until the parent is handled or
    ``until`` passes (then the worker handles it on its own)."""
    if signal.status != PENDING:
        raise SignalNotPending(signal.id, signal.status)
    signal.status = BUFFERED
    signal.next_attempt_at = until
    if signal.in_reply_to:
        _awaited(session).add((signal.source, signal.in_reply_to))


def record_failure(signal: Signal, error: str, *, max_attempts: int, retry_base_seconds: float) -> bool:
    """Counts a failed attempt: the signal is pending until a backoff passes, or becomes
    ``failed`` with its error after ``max_attempts``. Returns whether it failed for good."""
    if signal.status not in HANDLING:
        raise SignalNotPending(signal.id, signal.status)
    signal.attempts = (signal.attempts or 0) + 1
    signal.error = error[:2000]
    if signal.attempts >= max_attempts:
        signal.status = FAILED
        return True
    signal.status = PENDING
    backoff = retry_base_seconds * (2 ** (signal.attempts - 1))
    signal.next_attempt_at = utcnow() + timedelta(seconds=backoff)
    return False


# --- conversations: what a signal refers to ----------------------------------------------------


def parent_of(session: Session, signal: Signal) -> Signal | None:
    """The signal ``signal`` replies to (same source, its ``in_reply_to`` external id), if stored."""
    if not signal.in_reply_to:
        return None
    stmt = select(Signal).where(Signal.source == signal.source, Signal.external_id == signal.in_reply_to)
    return session.scalar(stmt)


_AWAITED = "sift.signals.awaited"  # session.info: (source, external id) of parents buffered replies wait for


def _awaited(session: Session) -> set[tuple[str, str]]:
    """The parents buffered replies wait for: read once per transaction (few signals are
    buffered at a time), then kept up to date by :func:`buffer`."""
    awaited = session.info.get(_AWAITED)
    if awaited is None:
        stmt = select(Signal.source, Signal.in_reply_to).where(Signal.status == BUFFERED)
        awaited = {(src, ref) for src, ref in session.execute(stmt) if ref}
        session.info[_AWAITED] = awaited
    return awaited


def buffered_replies(session: Session, parent: Signal) -> list[Signal]:
    """Replies to ``parent`` that wait for it (locked, skipping any another worker holds)."""
    if (parent.source, parent.external_id) not in _awaited(session):
        return []
    stmt = (
        select(Signal)
        .where(Signal.source == parent.source, Signal.in_reply_to == parent.external_id)
        .order_by(Signal.received_at, Signal.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    # the status is checked on the loaded objects: in a batch, a reply handled earlier in the same
    # savepoint is buffered in memory before it is flushed
    return [s for s in session.scalars(stmt) if s.status == BUFFERED and s.id != parent.id]


_BURSTS = "sift.signals.bursts"  # session.info: dedup key -> [(received_at, id)] of a worker batch


def prefetch_bursts(session: Session, batch: list[Signal], window: timedelta) -> None:
    """Reads, in one query, what :func:`first_of_burst` needs for every signal of a batch."""
    keyed = [s for s in batch if s.dedup_key]
    if not keyed:
        session.info[_BURSTS] = {}
        return
    since = min(s.received_at for s in keyed) - window
    stmt = select(Signal.dedup_key, Signal.received_at, Signal.id).where(
        Signal.dedup_key.in_({s.dedup_key for s in keyed}),
        Signal.received_at >= since,
        Signal.status != FAILED,
    )
    bursts: dict[str, list[tuple[datetime, str]]] = {s.dedup_key: [] for s in keyed if s.dedup_key}
    for key, received_at, sid in session.execute(stmt):
        if key is not None:
            bursts.setdefault(key, []).append((received_at, sid))
    session.info[_BURSTS] = bursts


def first_of_burst(session: Session, signal: Signal, window: timedelta) -> Signal | None:
    """The earliest other signal with the same text from the same author received within
    ``window`` before ``signal`` (ties by id), unless it failed; None if ``signal`` is the first."""
    if not signal.dedup_key:
        return None
    since = signal.received_at - window
    burst = session.info.get(_BURSTS, {}).get(signal.dedup_key)
    if burst is not None:
        earlier = sorted(
            (at, sid) for at, sid in burst if since <= at <= signal.received_at and sid != signal.id
        )
        first = session.get(Signal, earlier[0][1]) if earlier else None
    else:
        stmt = (
            select(Signal)
            .where(
                Signal.dedup_key == signal.dedup_key,
                Signal.received_at >= since,
                Signal.received_at <= signal.received_at,
                Signal.id != signal.id,
                Signal.status != FAILED,
            )
            .order_by(Signal.received_at, Signal.id)
            .limit(1)
        )
        first = session.scalar(stmt)
    if first is None:
        return None
    if first.received_at == signal.received_at and first.id > signal.id:
        return None  # accepted in the same instant: the lower id is the first
    while first.duplicate_of is not None and first.duplicate_of != signal.id:
        found = session.get(Signal, first.duplicate_of)
        if found is None:
            break
        first = found
    return first
