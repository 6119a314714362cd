"""conversations: the case's stage, signal dedup and reply pointers, suppression rules

Revision ID: 0009_conversations
Revises: 0008_webhooks_and_replies
Create Date: 2026-12-01 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = "0009_conversations"
down_revision: str | None = "0008_webhooks_and_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("stage_title", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("stage_since", engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_stage_status", ["stage", "status"], unique=False)
        batch_op.create_index("ix_cases_customer_topic_status", ["customer_id", "topic", "status"], unique=False)
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_signals_dedup_key_received_at", ["dedup_key", "received_at"], unique=False)
        batch_op.create_index("ix_signals_source_in_reply_to", ["source", "in_reply_to"], unique=False)
    op.create_table(
        "suppression_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("expires_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_rules")),
    )
    op.create_index("ix_suppression_rules_expires_at", "suppression_rules", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_suppression_rules_expires_at", table_name="suppression_rules")
    op.drop_table("suppression_rules")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_source_in_reply_to")
        batch_op.drop_index("ix_signals_dedup_key_received_at")
        batch_op.drop_column("duplicate_of")
        batch_op.drop_column("dedup_key")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_customer_topic_status")
        batch_op.drop_index("ix_cases_stage_status")
        batch_op.drop_column("stage_since")
        batch_op.drop_column("stage_title")
        batch_op.drop_column("stage")
