from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

ROLES = ("integration", "csr", "supervisor", "process_owner", "admin")


class ApiKey(Base):
    """An API key; only its SHA-256 is stored, no part of the key itself.

    ``name`` is the holder, used as assignee; it stays reserved after the key is revoked, so
    timelines and assignments keep meaning one holder. ``skills`` and ``queues`` make the holder a
    member of queues (``engine/queues``). ``last_used_at`` is the last successful
    authentication, to the minute (it is written at most once a minute per key).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    queues: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # how many open cases the holder may hold at once (None: no limit), and whether they are away
    # (an away holder is given nothing new: no auto-assignment, tasks:next answers 204)
    capacity: Mapped[int | None] = mapped_column(default=None)
    away: Mapped[bool] = mapped_column(default=False, server_default="0")
    away_since: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """A person signed in to the web pages with their key: the browser holds only the session
    token (an HttpOnly cookie), the table only its SHA-256. ``csrf_token`` is the synchronizer
    token every state-changing request of the session must echo in a header. A session ends at
    ``expires_at``, after ``idle`` without use, at sign-out (the row goes), or when its key is
    revoked (checked on every request)."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
