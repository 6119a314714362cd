"""The timer service: due rows claimed under a lease, fired once, each in its own transaction.

Writers (a case's flow, its SLA clock) call :func:`schedule`, :func:`cancel` and
:func:`sync_waiting` in their own transaction. Firing: :func:`claim_due` takes up to ``limit``
due rows under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of processes
share the table; SQLite has one writer) and commits the claim; :func:`fire` then runs each
row's handler in a new transaction that commits only if the row still carries the lease token
it was claimed with and the lease has not expired (a fenced lease: a firing that outlived its
lease cannot commit its effect, so another holder's firing is the only one). A handler that
finds its target moved on drops the timer; one that fails leaves it for a retry with backoff,
and after ``timer_max_attempts`` the timer is ``failed`` and listed for a person to see.

Handlers are registered by kind by the layers above (``engine.bootstrap``), so this package
knows nothing of cases or processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.config import get_settings
from engine.db import insert_later, new_id, unit_of_work, utcnow
from engine.errors import Conflict, EngineError, InvalidInput, NotFound
from engine.timers.models import DROPPED, FAILED, FIRED, PENDING, STATUSES, Timer

log = logging.getLogger("sift.timers")


class Drop(Exception):
    """Raised by a handler whose target has moved on: the timer is dropped, not retried."""


Handler = Callable[[Session, Timer], None]
_HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    _HANDLERS[kind] = handler


# --- writing timers -------------------------------------------------------------------------


def schedule(
    session: Session,
    kind: str,
    key: str,
    due_at: datetime,
    *,
    case_id: str | None = None,
    instance_id: str | None = None,
    task_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Timer:
    """The timer ``key`` is pending, due at ``due_at``: created, moved if pending, pending again
    if it was dropped. One that fired or failed for good stays so (it happened once)."""
    timer = session.scalar(select(Timer).where(Timer.key == key))
    if timer is None:
        timer = Timer(
            id=new_id(),
            kind=kind,
            key=key,
            due_at=due_at,
            case_id=case_id,
            instance_id=instance_id,
            task_id=task_id,
            data=data or {},
            status=PENDING,
            attempts=0,
            created_at=utcnow(),
        )
        session.add(timer)
    elif timer.status in (PENDING, DROPPED):
        timer.status, timer.due_at = PENDING, due_at
    _note_due(session, due_at)
    return timer


def upsert(
    session: Session,
    kind: str,
    key: str,
    due_at: datetime,
    *,
    case_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """:func:`schedule` in one statement and without loading the row, for the firing path: an
    INSERT that, when the key exists, makes a pending or dropped row pending at ``due_at`` and
    leaves a fired or failed one as it is."""
    table = cast(Table, Timer.__table__)
    dialect = session.get_bind().dialect.name
    insert_ = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    row = {
        "id": new_id(),
        "kind": kind,
        "key": key,
        "due_at": due_at,
        "case_id": case_id,
        "data": data or {},
        "status": PENDING,
        "attempts": 0,
        "created_at": utcnow(),
    }
    stmt = insert_.values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={"status": PENDING, "due_at": due_at},
        where=table.c.status.in_((PENDING, DROPPED)),
    )
    session.execute(stmt)
    _note_due(session, due_at)


_NEW_TIMER: dict[str, Any] = {"case_id": None, "instance_id": None, "task_id": None, "data": {}}


def add_new(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Inserts timers known to be new (their keys name a fresh case or instance), unqueried:
    rows written with the session's next flush (``insert_later``), not ORM objects."""
    now = utcnow()
    table = cast(Table, Timer.__table__)
    for row in rows:
        insert_later(
            session,
            table,
            {"id": new_id(), "status": PENDING, "attempts": 0, "created_at": now, **_NEW_TIMER, **row},
        )
        _note_due(session, row["due_at"])


def cancel(
    session: Session, *, case_id: str, kinds: tuple[str, ...] | None = None, keep: set[str] | None = None
) -> int:
    """Drops the case's pending timers (of ``kinds``, but those whose key is in ``keep``)."""
    stmt = update(Timer).where(Timer.case_id == case_id, Timer.status == PENDING)
    if kinds is not None:
        stmt = stmt.where(Timer.kind.in_(kinds))
    if keep:
        stmt = stmt.where(Timer.key.not_in(keep))
    result = session.execute(stmt.values(status=DROPPED).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def sync_waiting(
    session: Session,
    kind: str,
    *,
    case_id: str | None,
    instance_id: str,
    waiting: list[tuple[str, datetime]],
    new: bool = False,
    fired_now: bool = False,
) -> None:
    """Makes the pending ``kind`` rows of an instance match the (task id, due time) pairs it waits
    on: new pairs become timers; rows for pairs it no longer waits on are dropped, or, when the
    instance has just refreshed its timers (``fired_now``), counted as fired if they were due."""
    wanted = {f"{kind}:{instance_id}:{task_id}:{due.isoformat()}": (task_id, due) for task_id, due in waiting}
    existing: dict[str, Timer] = {}
    if not new:
        stmt = select(Timer).where(
            Timer.instance_id == instance_id, Timer.kind == kind, Timer.status == PENDING
        )
        existing = {t.key: t for t in session.scalars(stmt)}
    now = utcnow()
    for key, timer in existing.items():
        if timer.lease_token is not None:
            continue  # claimed: its own firing settles it
        if key not in wanted:
            timer.status = FIRED if fired_now and timer.due_at <= now else DROPPED
            if timer.status == FIRED:
                timer.fired_at, timer.lateness_ms = now, (now - timer.due_at).total_seconds() * 1000.0
    add_new(
        session,
        (
            {
                "kind": kind,
                "key": key,
                "due_at": due,
                "case_id": case_id,
                "instance_id": instance_id,
                "task_id": task,
            }
            for key, (task, due) in wanted.items()
            if key not in existing
        ),
    )


# --- waking the poller when an earlier timer is written --------------------------------------

_NEAREST = "sift.timers.nearest"
_listeners: list[Callable[[datetime], None]] = []
_listeners_lock = threading.Lock()


def on_new_due(listener: Callable[[datetime], None]) -> None:
    """``listener(due_at)`` is called after a commit that wrote a timer (the poller re-arms)."""
    with _listeners_lock:
        _listeners.append(listener)


def remove_listener(listener: Callable[[datetime], None]) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _note_due(session: Session, due_at: datetime) -> None:
    nearest = session.info.get(_NEAREST)
    if nearest is None or due_at < nearest:
        session.info[_NEAREST] = due_at


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    nearest = session.info.pop(_NEAREST, None)
    if nearest is None:
        return
    for listener in list(_listeners):
        listener(nearest)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_NEAREST, None)


# --- firing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    id: str
    token: str
    due_at: datetime


class LeaseLost(EngineError):
    status = 409

    def __init__(self, timer_id: str) -> None:
        super().__init__(
            f"Timer {timer_id}: its lease expired or passed to another holder before the firing committed."
        )


def next_due(session: Session, now: datetime) -> datetime | None:
    """When the next pending timer can be claimed: the nearest due time among free rows, or the
    nearest lease expiry (a retry's backoff, a crashed holder). Index lookups, whatever the size."""
    free = session.scalar(
        select(Timer.due_at).where(Timer.status == PENDING, _lease_free(now)).order_by(Timer.due_at).limit(1)
    )
    held = session.scalar(
        select(func.min(Timer.lease_expires_at)).where(Timer.status == PENDING, Timer.lease_expires_at >= now)
    )
    return min((t for t in (free, held) if t is not None), default=None)


def _lease_free(now: datetime) -> Any:
    return Timer.lease_expires_at.is_(None) | (Timer.lease_expires_at < now)


def claim_due(
    session: Session, *, owner: str, now: datetime, limit: int, lease_seconds: float
) -> list[Claim]:
    """Leases up to ``limit`` due pending timers (oldest first) whose lease is free or expired."""
    stmt = (
        select(Timer)
        .where(Timer.status == PENDING, Timer.due_at <= now, _lease_free(now))
        .order_by(Timer.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    claims = []
    expires = now + timedelta(seconds=lease_seconds)
    for timer in session.scalars(stmt):
        timer.lease_owner, timer.lease_expires_at, timer.lease_token = owner, expires, new_id()
        claims.append(Claim(timer.id, timer.lease_token, timer.due_at))
    return claims


@dataclass(frozen=True)
class Fired:
    status: str  # fired | dropped | retry | failed | lost
    lateness_ms: float | None = None


def fire(claim: Claim) -> Fired:
    """Runs the claimed timer's handler in its own transaction, fenced by the claim's token."""
    try:
        with unit_of_work() as session:
            timer = session.get(Timer, claim.id, populate_existing=True)
            if timer is None or timer.status != PENDING or timer.lease_token != claim.token:
                return Fired("lost")
            handler = _HANDLERS.get(timer.kind)
            if handler is None:
                raise RuntimeError(f"no handler registered for timer kind {timer.kind!r}")
            now = utcnow()
            try:
                with session.begin_nested():
                    handler(session, timer)
                outcome = FIRED
            except Drop:
                outcome = DROPPED
            lateness = (now - timer.due_at).total_seconds() * 1000.0
            _settle(session, timer, claim, outcome, lateness)
            return Fired(outcome, lateness if outcome == FIRED else None)
    except LeaseLost:
        log.warning("timer %s: lease lost before the firing committed; its effect was rolled back", claim.id)
        return Fired("lost")
    except Exception as err:
        return _record_failure(claim, err)


def _settle(session: Session, timer: Timer, claim: Claim, outcome: str, lateness: float) -> None:
    """Marks the timer done, in the firing's own transaction and only under the claim's lease."""
    session.flush()
    fenced = session.execute(
        update(Timer)
        .where(
            Timer.id == timer.id,
            Timer.status == PENDING,  # not dropped meanwhile by the change that made it moot
            Timer.lease_token == claim.token,
            Timer.lease_expires_at > utcnow(),
        )
        .values(
            status=outcome,
            fired_at=utcnow(),
            lateness_ms=lateness if outcome == FIRED else None,
            lease_owner=None,
            lease_expires_at=None,
            lease_token=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(fenced, "rowcount", 0) != 1:
        raise LeaseLost(timer.id)


def _record_failure(claim: Claim, err: Exception) -> Fired:
    settings = get_settings()
    detail = err.detail if isinstance(err, EngineError) else "internal error"
    if not isinstance(err, EngineError):
        log.error("timer %s failed", claim.id, exc_info=err)
    with unit_of_work() as session:
        timer = session.get(Timer, claim.id)
        if timer is None or timer.lease_token != claim.token:
            return Fired("lost")
        timer.attempts += 1
        timer.last_error = f"{type(err).__name__}: {detail}"[:2000]
        timer.lease_owner = timer.lease_token = None
        if timer.attempts >= settings.timer_max_attempts:
            timer.status = FAILED
            timer.lease_expires_at = None
            log.error("timer %s (%s) failed for good after %d attempts", timer.id, timer.kind, timer.attempts)
            return Fired("failed")
        # the lease expiry doubles as the earliest next attempt: claim_due skips it until then
        backoff = settings.timer_retry_base_seconds * (2 ** (timer.attempts - 1))
        timer.lease_expires_at = utcnow() + timedelta(seconds=backoff)
        log.warning(
            "timer %s (%s) attempt %d failed: %s", timer.id, timer.kind, timer.attempts, type(err).__name__
        )
        return Fired("retry")


def claim(*, owner: str, limit: int | None = None, now: datetime | None = None) -> list[Claim]:
    """Leases the timers due now, in a transaction of its own; each claim is then fired apart."""
    settings = get_settings()
    with unit_of_work() as session:
        return claim_due(
            session,
            owner=owner,
            now=now or utcnow(),
            limit=limit or settings.timer_batch_size,
            lease_seconds=settings.timer_lease_seconds,
        )


def run_due(*, owner: str, limit: int | None = None, now: datetime | None = None) -> list[Fired]:
    """Claims the timers due now and fires each in turn; returns what happened to each."""
    return [fire(c) for c in claim(owner=owner, limit=limit, now=now)]


def retry(session: Session, timer_id: str) -> Timer:
    """A person retries a failed timer: it is pending again, due now, with its attempts reset."""
    timer = session.get(Timer, timer_id)
    if timer is None:
        raise NotFound("timer", timer_id)
    if timer.status != FAILED:
        raise Conflict(f"Timer {timer_id} is {timer.status}; only a failed timer can be retried.")
    timer.status, timer.attempts, timer.lease_expires_at = PENDING, 0, None
    timer.due_at = min(timer.due_at, utcnow())
    _note_due(session, timer.due_at)
    return timer


def list_timers(
    session: Session, *, status: str | None = None, case_id: str | None = None, limit: int = 100
) -> list[Timer]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"Unknown timer status {status!r}; use one of {', '.join(STATUSES)}.",
            fields=[{"field": "status", "message": "unknown value"}],
        )
    stmt = select(Timer)
    if status is not None:
        stmt = stmt.where(Timer.status == status)
    if case_id is not None:
        stmt = stmt.where(Timer.case_id == case_id)
    return list(session.scalars(stmt.order_by(Timer.due_at, Timer.id).limit(limit)))
