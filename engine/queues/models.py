from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow

MANUAL, ROUND_ROBIN, LEAST_LOADED = "manual", "round_robin", "least_loaded"
STRATEGIES = (MANUAL, ROUND_ROBIN, LEAST_LOADED)


class Queue(Base):
    """How a queue hands out its work. Its members are the keys that name it in ``queues``
    (membership lives on the key, beside the holder's role and skills); ``skills`` are what a
    member needs to be given the queue's work; ``turns`` is the weighted round robin's pass of each
    member (``engine/cases/assignment.py``), ``last_assignee`` who was given work last."""

    __tablename__ = "queues"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(16), default=MANUAL)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    last_assignee: Mapped[str | None] = mapped_column(String(80), default=None)
    turns: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80), default=None)
