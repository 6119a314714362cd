from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

ACTIVE, DISABLED = "active", "disabled"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)
QUEUED, SENT = "queued", "sent"
REPLY_STATUSES = (QUEUED, SENT, FAILED)


class WebhookSubscription(Base):
    """Where to POST which events, and the secret that signs them (never shown back)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80), default=None)


class _Leased:
    """Columns of a row sent by whichever worker holds its lease (see engine/delivery/leases.py)."""

    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(_Leased, Base):
    """One event for one subscription. Its id is the delivery id receivers de-duplicate by: the
    same on every retry and on a redelivery."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_id_created_at", "subscription_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    history: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboundReply(_Leased, Base):
    """A reply a CSR wrote, on its way to the customer's channel through a channel adapter."""

    __tablename__ = "outbound_replies"
    __table_args__ = (
        Index("ix_outbound_replies_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbound_replies_case_id_created_at", "case_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    channel: Mapped[str] = mapped_column(String(64))
    in_reply_to: Mapped[str | None] = mapped_column(String(256), default=None)
    text: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(80), default=None)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    held_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    external_id: Mapped[str | None] = mapped_column(String(256), default=None)
    # the canned reply its text was rendered from (no foreign key: deleting a template keeps history)
    canned_reply_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
