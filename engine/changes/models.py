"""A change request: an investigation asks for a process to change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

REQUESTED, APPROVED, DEPLOYED = "requested", "approved", "deployed"
STATUSES = (REQUESTED, APPROVED, DEPLOYED)


class ChangeRequest(Base):
    """Opened by an investigation's ``request_change`` step naming ``process_key``; a replay test
    of a version stores its report (``tested_version``, ``test_report``); a process owner
    approves one tested version, and deploying that version through the processes API makes the
    request ``deployed`` and lets the investigation go on to its close."""

    __tablename__ = "change_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=REQUESTED)
    version: Mapped[int | None] = mapped_column(default=None)  # the version approved (then deployed)
    tested_version: Mapped[int | None] = mapped_column(default=None)
    test_report: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    requested_by: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    tested_at: Mapped[datetime | None] = mapped_column(default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    deployed_at: Mapped[datetime | None] = mapped_column(default=None)
