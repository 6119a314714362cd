from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, new_id, utcnow

if TYPE_CHECKING:
    from engine.cases.models import Case
    from engine.customers.models import Customer

PENDING, PROCESSED, IGNORED, FAILED = "pending", "processed", "ignored", "failed"
BUFFERED = "buffered"  # a reply whose parent has not arrived yet


class Signal(Base):
    """A mention received over HTTP: the durable inbox row, unique per (source, external_id)."""

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_signals_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_signals_dedup_key_received_at", "dedup_key", "received_at"),
        Index("ix_signals_source_in_reply_to", "source", "in_reply_to"),
        # GET /signals: newest first, alone or within a status or a source
        Index("ix_signals_received_at_id", "received_at", "id"),
        Index("ix_signals_status_received_at_id", "status", "received_at", "id"),
        Index("ix_signals_source_received_at_id", "source", "received_at", "id"),
        Index("ix_signals_posted_at", "posted_at"),  # a day's mentions by their own time (insights)
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[dict[str, Any]] = mapped_column(default=dict)
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    in_reply_to: Mapped[str | None] = mapped_column(String(256), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # sha256 of source, author handle and the text with its whitespace and case folded
    dedup_key: Mapped[str | None] = mapped_column(String(64), default=None)
    duplicate_of: Mapped[str | None] = mapped_column(String(32), default=None)  # the first of its burst

    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)

    enrichment: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    routing: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None, index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)

    # for foreign-key ordering within one flush; never loaded through
    customer: Mapped[Customer | None] = relationship(lazy="raise_on_sql")
    case: Mapped[Case | None] = relationship(lazy="raise_on_sql")


ENTITY, PHRASE = "entity", "phrase"


class SuppressionRule(Base):
    """An owner mutes an entity (an author handle or a recognised entity such as a product)
    or a phrase until ``expires_at``: matching signals are stored as ``ignored``, naming it."""

    __tablename__ = "suppression_rules"
    __table_args__ = (Index("ix_suppression_rules_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # entity | phrase
    value: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    expires_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    matched: Mapped[int] = mapped_column(default=0, server_default="0")
