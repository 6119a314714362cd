from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, new_id, utcnow

if TYPE_CHECKING:
    from engine.cases.models import Case


class ActivityEvent(Base):
    """One line of a case's timeline (or a system-wide audit line when case_id is empty)."""

    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_events_case_id_seq", "case_id", "seq"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(80), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    case: Mapped[Case | None] = relationship(lazy="raise_on_sql")  # foreign-key ordering only


class OutboxEvent(Base):
    """An event to deliver to subscribers after the transaction that wrote it commits."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_delivered_at_seq", "delivered_at", "seq"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    type: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(32), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
