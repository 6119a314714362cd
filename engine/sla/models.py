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


class SlaCalendar(Base):
    """Business hours an SLA clock counts in: weekly shifts in a zone, holidays, dated overrides.

    ``hours`` maps ``mon``..``sun`` to shifts written ``"09:00-12:30"``; ``overrides`` maps ISO
    dates to the shifts of that day (an empty list closes it). The built-in ``24x7`` is no row."""

    __tablename__ = "sla_calendars"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holiday_country: Mapped[str | None] = mapped_column(String(16), default=None)
    holiday_subdivision: Mapped[str | None] = mapped_column(String(64), default=None)
    working_day: Mapped[str] = mapped_column(String(32), default="PT8H")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80), default=None)
