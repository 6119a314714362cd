from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow

if TYPE_CHECKING:
    from engine.cases.models import Case
    from engine.processes.models import ProcessInstanceRecord

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"
UNHELD_OPEN = "status = 'open' AND assignee IS NULL"


class Task(Base):
    """A user task of a process instance, derived from its state after every change.

    The id is SpiffWorkflow's task id, so a task row and the engine's task are one thing.
    Business fields (queue, priority) are copied from the case so lists filter without joins.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_assignee", "status", "assignee"),
        Index("ix_tasks_status_queue", "status", "queue"),
        Index("ix_tasks_status_created_at_id", "status", "created_at", "id"),  # the paged task list
        # Get Next Work's unheld open tasks, by case, with what it filters and orders them by
        Index(
            "ix_tasks_unheld_open_case",
            "case_id",
            "queue",
            "created_at",
            "id",
            sqlite_where=text(UNHELD_OPEN),
            postgresql_where=text(UNHELD_OPEN),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    assignee: Mapped[str | None] = mapped_column(String(80), default=None)
    queue: Mapped[str | None] = mapped_column(String(64), default=None)
    priority: Mapped[str | None] = mapped_column(String(8), default=None)
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    # collision: who is writing on the task now (a lease renewed while they write; it lapses at
    # writing_until), so another does not complete it meanwhile (engine/tasks/service.py)
    writer: Mapped[str | None] = mapped_column(String(80), default=None)
    writing_since: Mapped[datetime | None] = mapped_column(default=None)
    writing_until: Mapped[datetime | None] = mapped_column(default=None)

    # for foreign-key ordering within one flush; never loaded through
    case: Mapped[Case] = relationship(lazy="raise_on_sql")
    instance: Mapped[ProcessInstanceRecord] = relationship(lazy="raise_on_sql")
