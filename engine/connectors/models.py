from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

MASTODON, BLUESKY, RSS, REDDIT = "mastodon", "bluesky", "rss", "reddit"
KINDS = (MASTODON, BLUESKY, RSS, REDDIT)


class Connector(Base):
    """One configured listener: its kind, what it listens for, where (``options``), its
    credentials (Fernet-encrypted, never shown back) and its run state. Runs are claimed under
    a fenced lease, as deliveries are (engine/delivery/leases.py), so processes that share one
    database never run the same connector at once."""

    __tablename__ = "connectors"
    __table_args__ = (Index("ix_connectors_enabled_next_run_at", "enabled", "next_run_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credentials: Mapped[str | None] = mapped_column(Text, default=None)  # Fernet token of a JSON object
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    failures: Mapped[int] = mapped_column(default=0)  # in a row
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    caught_up_at: Mapped[datetime | None] = mapped_column(default=None)  # everything up to then is in
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    mentions: Mapped[int] = mapped_column(default=0)  # new signals it brought in, all time
    repeats: Mapped[int] = mapped_column(default=0)  # posts it offered that the inbox had already
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class ConnectorCursor(Base):
    """Where one stream of a connector stands (a hashtag's newest status id, Jetstream's
    ``time_us``, a feed's ETag, a listing's newest post): written with the signals it covers."""

    __tablename__ = "connector_cursors"

    connector_id: Mapped[str] = mapped_column(
        ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
