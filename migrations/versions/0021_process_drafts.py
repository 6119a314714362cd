"""process drafts: a process owner's unfinished diagram of a key, stored with its problems

Revision ID: 0021_process_drafts
Revises: 0020_participants
Create Date: 2026-12-03 06:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0021_process_drafts"
down_revision: str | None = "0020_participants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "process_drafts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("warnings", JSON, nullable=False),
        sa.Column("saved_by", sa.String(length=80), nullable=False),
        sa.Column("saved_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key"], ["process_definitions.key"], name=op.f("fk_process_drafts_key_process_definitions")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_process_drafts")),
    )


def downgrade() -> None:
    op.drop_table("process_drafts")
