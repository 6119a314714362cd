from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

OPEN, RESOLVED = "open", "resolved"
STATUSES = (OPEN, RESOLVED)


class Incident(Base):
    """A task of a process instance that failed at run time (a script, a service call, an
    expression) and is held at its element until it is retried.

    One row per failed task: a retry that fails again keeps the row open and counts the
    attempt. ``error`` is the error's code name and ``message`` what it said (never task data).
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_opened_at", "status", "opened_at"),
        Index("ix_incidents_instance_id_status", "instance_id", "status"),
        Index("ix_incidents_case_id", "case_id"),
        Index("ix_incidents_process_key_status", "process_key", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"))
    process_key: Mapped[str] = mapped_column(String(200))
    process_version: Mapped[int]
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300), default=None)
    error: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(default=1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(80), default=None)
    #: how it ended: ``retried`` (the task ran), ``moved_on`` (the process left the element
    #: behind, e.g. an interrupting event or the end of the process)
    resolution: Mapped[str | None] = mapped_column(String(32), default=None)
