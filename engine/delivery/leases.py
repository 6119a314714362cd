"""Claiming rows to send under a fenced lease, the pattern of engine/timers.

A claim leases due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers sharing one
database never claim the same row; SQLite has one writer) and commits at once, so nothing is
held open while the HTTP request runs. The outcome is then written by one UPDATE that matches
only while the row still carries the claim's token and its lease has not expired: a sender that
outlived its lease cannot overwrite what the next holder did. The lease outlasts the HTTP
timeout, so two workers never send the same attempt at once; a worker that dies after sending
and before settling leaves the row to be sent again when its lease expires (at least once:
receivers de-duplicate by the id).

Why not rows of the timers table: a timer's handler runs inside the firing's transaction and
its effect is rolled back when the lease is lost, but an HTTP request cannot be rolled back and
may take the whole timeout; on SQLite the timer service fires with one thread, so one slow
receiver would hold up every SLA timer behind it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, update
from sqlalchemy.orm import Session

from engine.db import new_id, utcnow


def lease_free(model: Any, now: datetime) -> Any:
    return model.lease_expires_at.is_(None) | (model.lease_expires_at < now)


def claim(session: Session, stmt: Select[Any], model: Any, *, owner: str, lease_seconds: float) -> list[Any]:
    """Leases the rows ``stmt`` selects (it filters due rows with :func:`lease_free`)."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=model)
    now = utcnow()
    rows = list(session.scalars(stmt))
    for row in rows:
        row.lease_owner, row.lease_token = owner, new_id()
        row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        row.last_attempt_at = now
    session.flush()
    return rows


def settle(session: Session, model: Any, row_id: str, token: str, **values: Any) -> bool:
    """Writes the outcome of a send and frees the lease; False when the lease was lost."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.lease_token == token, model.lease_expires_at > utcnow())
        .values(lease_owner=None, lease_token=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential: ``base``, then doubling after each failed attempt, at most ``cap``."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))
