from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, new_id, utcnow


class Customer(Base):
    """One person behind one or more social identities (the 360 view)."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    influence: Mapped[float] = mapped_column(default=0.0)
    value_tier: Mapped[str | None] = mapped_column(String(32), default=None)
    lifetime_value: Mapped[float | None] = mapped_column(default=None)
    external_ref: Mapped[str | None] = mapped_column(String(200), default=None, unique=True)
    merged_into: Mapped[str | None] = mapped_column(String(32), default=None)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerHandle(Base):
    """An identity ``source:handle`` (e.g. ``twitter:@jane``) that resolves to a customer."""

    __tablename__ = "customer_handles"

    handle: Mapped[str] = mapped_column(String(300), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(lazy="raise_on_sql")  # foreign-key ordering only
