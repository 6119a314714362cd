from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow


class CsatAnswer(Base):
    """The customer's satisfaction answer on a case (1 to 5). One per case: a later answer
    replaces it, and the timeline keeps every answer as a ``csat.received`` event."""

    __tablename__ = "csat_answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    actor: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExperienceWeight(Base):
    """The weight of one factor of the experience score; a factor without a row weighs 1."""

    __tablename__ = "experience_weights"

    factor: Mapped[str] = mapped_column(String(32), primary_key=True)
    weight: Mapped[float]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80))
