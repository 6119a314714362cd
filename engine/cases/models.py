from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, new_id, utcnow

if TYPE_CHECKING:
    from engine.customers.models import Customer
    from engine.processes.models import ProcessInstanceRecord


OPEN_INVESTIGATION = "kind = 'investigation' AND status IN ('open', 'waiting')"
UNHELD_OPEN = "status = 'open' AND assignee IS NULL"  # the cases Get Next Work chooses among


class Case(Base):
    """A unit of customer care work, driven by one process instance."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_sla_due", "status", "sla_due_at"),
        # the CSR's list (assignee=me|none, status, sort=sla_due) and a topic's, walked in order
        Index("ix_cases_assignee_status_sla_due_at", "assignee", "status", "sla_due_at", "id"),
        Index("ix_cases_topic_status_sla_due_at", "topic", "status", "sla_due_at", "id"),
        Index("ix_cases_queue_status", "queue", "status"),
        Index("ix_cases_created_at", "created_at"),
        Index("ix_cases_urgency_created_at", "urgency", "created_at"),
        Index("ix_cases_stage_status", "stage", "status"),
        Index("ix_cases_customer_topic_status", "customer_id", "topic", "status"),
        Index("ix_cases_parent_id_status", "parent_id", "status"),
        # one open investigation per topic, whichever worker's spike gets there first
        Index(
            "uq_cases_open_investigation_topic",
            "topic",
            unique=True,
            sqlite_where=text(OPEN_INVESTIGATION),
            postgresql_where=text(OPEN_INVESTIGATION),
        ),
        # Get Next Work reads every unheld open case's urgency columns: from this index alone, not
        # from the heap rows of all open cases (most of them held) it read before
        Index(
            "ix_cases_unheld_open_urgency",
            "priority_rank",
            "urgency",
            "customer_points",
            "sla_due_at",
            "id",
            sqlite_where=text(UNHELD_OPEN),
            postgresql_where=text(UNHELD_OPEN),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="reactive")  # reactive | investigation
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | waiting | resolved | closed
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    priority_rank: Mapped[int] = mapped_column(default=2)  # urgent 0 .. low 3, for sorting
    urgency: Mapped[int] = mapped_column(default=0, server_default="0")  # raised by the SLA levels
    # the customer's influence and value as urgency points, fixed at opening (engine/cases/assignment.py)
    customer_points: Mapped[int] = mapped_column(default=0, server_default="0")
    queue: Mapped[str] = mapped_column(String(64), default="care")
    assignee: Mapped[str | None] = mapped_column(String(80), default=None)
    topic: Mapped[str | None] = mapped_column(String(100), default=None)
    title: Mapped[str] = mapped_column(String(300), default="")
    # found by ix_cases_customer_topic_status, whose leading column it is (no index of its own)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), default=None)  # a parent link
    # set when the case was merged into another (it is closed then); always the surviving case:
    # merging a merge target re-points the cases merged into it, so a pointer is one hop
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    process_instance_id: Mapped[str | None] = mapped_column(ForeignKey("process_instances.id"), default=None)
    origin_signal_id: Mapped[str | None] = mapped_column(String(32), default=None, unique=True)

    sla_policy: Mapped[str | None] = mapped_column(String(64), default=None)
    sla_state: Mapped[str] = mapped_column(String(16), default="on_track")  # set by the SLA timers
    sla_target: Mapped[str | None] = mapped_column(
        String(80), default=None
    )  # first_response | stage:triage | …
    first_response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_due_at: Mapped[datetime | None] = mapped_column(default=None)  # the nearest open due time
    sla_warning_at: Mapped[datetime | None] = mapped_column(default=None)  # when that target turns at risk
    sla_paused: Mapped[bool] = mapped_column(default=False)
    sla_paused_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_seconds: Mapped[float] = mapped_column(default=0.0)  # wall-clock time spent paused
    next_response_since: Mapped[datetime | None] = mapped_column(
        default=None
    )  # the customer message owed a reply
    next_response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    # the open stages' clocks: {"stage:<task name>": {"task": id, "since": iso, "due": iso}}
    sla_stages: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    # where the case's process is: the element id of the user task it waits at (its lane when the
    # task has one), or of the event it waits on; set by the case's one advance path
    stage: Mapped[str | None] = mapped_column(String(120), default=None)
    stage_title: Mapped[str | None] = mapped_column(String(200), default=None)
    stage_since: Mapped[datetime | None] = mapped_column(default=None)

    resolution: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    last_reply_at: Mapped[datetime | None] = mapped_column(default=None)

    # Declared so the unit of work inserts rows in foreign-key order within one flush;
    # code sets the id columns and never loads through these.
    customer: Mapped[Customer | None] = relationship(lazy="raise_on_sql")
    process_instance: Mapped[ProcessInstanceRecord | None] = relationship(lazy="raise_on_sql")


class Comment(Base):
    """A comment on a case, for the team: never sent to the customer (only a respond task's
    reply is). ``internal`` marks a note; ``mentions`` are the key holders its @handles named.
    A merge moves the comments of the merged case to the surviving one (``merged_from``)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_case_id_created_at_id", "case_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    mentions: Mapped[list[Any]] = mapped_column(default=list)
    merged_from: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(lazy="raise_on_sql")  # foreign-key ordering only


class Mention(Base):
    """One key holder named by one comment: what ``GET /mentions?user=me`` lists."""

    __tablename__ = "mentions"
    __table_args__ = (
        Index("ix_mentions_user_created_at_id", "user", "created_at", "id"),
        UniqueConstraint("comment_id", "user"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user: Mapped[str] = mapped_column(String(80))
    author: Mapped[str] = mapped_column(String(80))
    excerpt: Mapped[str] = mapped_column(String(300))
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)

    comment: Mapped[Comment] = relationship(lazy="raise_on_sql")  # foreign-key ordering only


class CaseLink(Base):
    """``source`` is ``type`` of ``target``: its duplicate (``duplicate_of``), its child
    (``parent``: the target is the source's parent) or ``related``. One link per pair of cases,
    whichever way round (``pair``: the two ids, sorted)."""

    __tablename__ = "case_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    pair: Mapped[str] = mapped_column(String(65), unique=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseParticipant(Base):
    """A key holder from a department taking part in a case (an investigation's collaborators):
    they may comment on it and work its subtasks. One row per holder per case."""

    __tablename__ = "case_participants"
    __table_args__ = (UniqueConstraint("case_id", "user"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(100), default=None)  # their part, free text
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subtask(Base):
    """A piece of a case's work assigned to one of its participants; a row of its own, not a
    BPMN task (the case's process does not wait on it, but an investigation's ``investigate``
    step does not complete while one is open)."""

    __tablename__ = "subtasks"
    __table_args__ = (
        Index("ix_subtasks_assignee_status_created_at_id", "assignee", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    assignee: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
