"""canned replies: named reply templates with variables, and which one an outbound reply used

Revision ID: 0014_canned_replies
Revises: 0013_incidents
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0014_canned_replies"
down_revision: str | None = "0013_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("created_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("name_key", name=op.f("uq_canned_replies_name_key")),
    )
    with op.batch_alter_table("outbound_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canned_reply_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_replies", schema=None) as batch_op:
        batch_op.drop_column("canned_reply_id")
    op.drop_table("canned_replies")
