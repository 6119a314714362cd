"""participants of a case (by department) and the subtasks assigned to them

Revision ID: 0020_participants
Revises: 0019_change_requests
Create Date: 2026-12-02 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = "0020_participants"
down_revision: str | None = "0019_change_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_participants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=80), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("added_by", sa.String(length=80), nullable=False),
        sa.Column("added_at", engine.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_participants_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_participants")),
        sa.UniqueConstraint("case_id", "user", name=op.f("uq_case_participants_case_id_user")),
    )
    op.create_index(op.f("ix_case_participants_case_id"), "case_participants", ["case_id"], unique=False)
    op.create_table(
        "subtasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("assignee", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("completed_by", sa.String(length=80), nullable=True),
        sa.Column("completed_at", engine.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_subtasks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subtasks")),
    )
    op.create_index(op.f("ix_subtasks_case_id"), "subtasks", ["case_id"], unique=False)
    op.create_index(
        "ix_subtasks_assignee_status_created_at_id",
        "subtasks",
        ["assignee", "status", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_subtasks_assignee_status_created_at_id", table_name="subtasks")
    op.drop_index(op.f("ix_subtasks_case_id"), table_name="subtasks")
    op.drop_table("subtasks")
    op.drop_index(op.f("ix_case_participants_case_id"), table_name="case_participants")
    op.drop_table("case_participants")
