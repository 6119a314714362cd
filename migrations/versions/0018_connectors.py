"""connectors: listening adapters (Mastodon, Bluesky, RSS/Atom, Reddit) and their cursors

Revision ID: 0018_connectors
Revises: 0017_next_work
Create Date: 2026-12-02 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0018_connectors"
down_revision: str | None = "0017_next_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("query", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("options", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("next_run_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_run_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("last_success_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("caught_up_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("lease_expires_at", engine.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
        sa.UniqueConstraint("name", name=op.f("uq_connectors_name")),
    )
    op.create_index(
        "ix_connectors_enabled_next_run_at", "connectors", ["enabled", "next_run_at"], unique=False
    )
    op.create_table(
        "connector_cursors",
        sa.Column("connector_id", sa.String(length=32), nullable=False),
        sa.Column("stream", sa.String(length=300), nullable=False),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_cursors_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector_id", "stream", name=op.f("pk_connector_cursors")),
    )


def downgrade() -> None:
    op.drop_table("connector_cursors")
    op.drop_index("ix_connectors_enabled_next_run_at", table_name="connectors")
    op.drop_table("connectors")
