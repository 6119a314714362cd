"""queues: how each queue hands out work, holders' capacity and presence, the customer's urgency
points on a case, and the indexes of the people's lists (cases by holder or topic, signals, tasks)

Revision ID: 0010_queues
Revises: 0009_conversations
Create Date: 2026-12-01 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0010_queues"
down_revision: str | None = "0009_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("last_assignee", sa.String(length=80), nullable=True),
        sa.Column("turns", JSON, nullable=False),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_queues")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("away", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("away_since", engine.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_points", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_index("ix_cases_assignee_status")
        batch_op.drop_index("ix_cases_topic")
        batch_op.create_index(
            "ix_cases_assignee_status_sla_due_at", ["assignee", "status", "sla_due_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_topic_status_sla_due_at", ["topic", "status", "sla_due_at", "id"], unique=False
        )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index("ix_signals_received_at_id", ["received_at", "id"], unique=False)
        batch_op.create_index(
            "ix_signals_status_received_at_id", ["status", "received_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_signals_source_received_at_id", ["source", "received_at", "id"], unique=False
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_status_created_at_id", ["status", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_status_created_at_id")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_source_received_at_id")
        batch_op.drop_index("ix_signals_status_received_at_id")
        batch_op.drop_index("ix_signals_received_at_id")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_topic_status_sla_due_at")
        batch_op.drop_index("ix_cases_assignee_status_sla_due_at")
        batch_op.create_index("ix_cases_topic", ["topic"], unique=False)
        batch_op.create_index("ix_cases_assignee_status", ["assignee", "status"], unique=False)
        batch_op.drop_column("customer_points")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("away_since")
        batch_op.drop_column("away")
        batch_op.drop_column("capacity")
    op.drop_table("queues")
