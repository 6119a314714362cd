"""What a supervisor watches: per queue, the live work (depth, oldest wait, at risk, breached),
and the cases that need attention first. Read-only; one grouped query per figure set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cases import transitions
from engine.cases.models import Case

LIVE = (transitions.OPEN, transitions.WAITING)


@dataclass(frozen=True)
class QueueFigures:
    name: str
    open: int
    waiting: int
    unassigned: int
    at_risk: int
    breached: int
    oldest_unassigned_at: datetime | None  # the longest wait for someone to take a case


def queue_figures(session: Session) -> list[QueueFigures]:
    """Every queue that holds an open or waiting case, by name."""
    running = Case.sla_paused.is_(False)
    stmt = (
        select(
            Case.queue,
            func.sum(when((Case.status == transitions.OPEN, 1), else_=0)),
            func.sum(when((Case.status == transitions.WAITING, 1), else_=0)),
            func.sum(when((Case.assignee.is_(None), 1), else_=0)),
            func.sum(when((running & (Case.sla_state == "at_risk"), 1), else_=0)),
            func.sum(when((Case.sla_state == "breached", 1), else_=0)),
            func.min(when((Case.assignee.is_(None), Case.created_at), else_=None)),
        )
        .where(Case.status.in_(LIVE))
        .group_by(Case.queue)
        .order_by(Case.queue)
    )
    return [
        QueueFigures(
            name=name,
            open=int(o or 0),
            waiting=int(w or 0),
            unassigned=int(u or 0),
            at_risk=int(r or 0),
            breached=int(b or 0),
            oldest_unassigned_at=_aware(oldest),
        )
        for name, o, w, u, r, b, oldest in session.execute(stmt)
    ]


def needing_attention(session: Session, *, limit: int = 25) -> list[Case]:
    """Open or waiting cases that are breached or at risk, the nearest due first."""
    stmt = (
        select(Case)
        .where(Case.status.in_(LIVE), Case.sla_state.in_(("at_risk", "breached")))
        .order_by(Case.sla_due_at.is_(None), Case.sla_due_at, Case.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _aware(value: datetime | str | None) -> datetime | None:
    """``min()`` over a CASE loses the column's type on SQLite (a string comes back)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
