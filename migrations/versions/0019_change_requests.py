"""change requests: an investigation's change to a process, its replay test, approval and deployed version

Revision ID: 0019_change_requests
Revises: 0018_connectors
Create Date: 2026-12-02 04:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0019_change_requests"
down_revision: str | None = "0018_connectors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("tested_version", sa.Integer(), nullable=True),
        sa.Column("test_report", JSON, nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("tested_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("approved_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("deployed_at", engine.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_change_requests_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    op.create_index(op.f("ix_change_requests_case_id"), "change_requests", ["case_id"], unique=False)
    op.create_index(op.f("ix_change_requests_process_key"), "change_requests", ["process_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_change_requests_process_key"), table_name="change_requests")
    op.drop_index(op.f("ix_change_requests_case_id"), table_name="change_requests")
    op.drop_table("change_requests")
