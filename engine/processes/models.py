from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

DRAFT, DEPLOYED, RETIRED = "draft", "deployed", "retired"


class ProcessDefinition(Base):
    """A process or decision key and the version new work starts on."""

    __tablename__ = "process_definitions"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    deployed_version: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessVersion(Base):
    """One uploaded file, stored once; instances reference it, never embed it."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(ForeignKey("process_definitions.key"))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    uploaded_by: Mapped[str | None] = mapped_column(String(80), default=None)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_at: Mapped[datetime | None] = mapped_column(default=None)
    deployed_by: Mapped[str | None] = mapped_column(String(80), default=None)


class ProcessInstanceRecord(Base):
    """Serialized SpiffWorkflow state of one running instance (spec kept out of it).

    ``lock_version`` is the optimistic lock: every save bumps it, and a save
    that finds another version fails instead of overwriting newer state.
    """

    __tablename__ = "process_instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    process_key: Mapped[str] = mapped_column(String(200))
    process_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | completed | error
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    #: the version of each process its call activities call, pinned when the instance started
    called_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lock_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": lock_version}


class ProcessDraft(Base):
    """A process owner's unfinished diagram of a key: stored whatever its problems, with the
    problems found when it was saved. It is not a version, so nothing can deploy it; it becomes
    one only through the validated upload. One per key: the last save wins."""

    __tablename__ = "process_drafts"

    key: Mapped[str] = mapped_column(ForeignKey("process_definitions.key"), primary_key=True)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    #: the version it was opened from, if any
    base_version: Mapped[int | None] = mapped_column(default=None)
    valid: Mapped[bool] = mapped_column(default=False)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    saved_by: Mapped[str] = mapped_column(String(80))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
