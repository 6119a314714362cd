from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, new_id, utcnow

if TYPE_CHECKING:
    from engine.cases.models import Case

PENDING, FIRED, DROPPED, FAILED = "pending", "fired", "dropped", "failed"
STATUSES = (PENDING, FIRED, DROPPED, FAILED)


class Timer(Base):
    """One due time: a BPMN timer event an instance waits on, or an SLA warning or breach.

    ``key`` names what the timer is for (one pending row per key): writing the same key again
    moves the due time instead of adding a second timer. A claimed row carries a lease (owner,
    expiry, token); its firing commits only while the lease it was claimed with still holds.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_status_due_at", "status", "due_at"),
        Index("ix_timers_status_lease_expires_at", "status", "lease_expires_at"),
        Index("ix_timers_case_id_status", "case_id", "status"),
        Index("ix_timers_instance_id_status", "instance_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), default=None)
    instance_id: Mapped[str | None] = mapped_column(String(32), default=None)
    task_id: Mapped[str | None] = mapped_column(String(36), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(default=None)
    lateness_ms: Mapped[float | None] = mapped_column(default=None)

    # for foreign-key ordering within one flush; never loaded through
    case: Mapped[Case | None] = relationship(lazy="raise_on_sql")
