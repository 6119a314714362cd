from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class SlaPolicy(Base):
    """Targets per priority (ISO 8601 durations), a calendar and the warning share."""

    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    calendar: Mapped[str] = mapped_column(String(64), default="24x7")
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    warning_at: Mapped[float] = mapped_column(default=0.75)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80), default=None)
