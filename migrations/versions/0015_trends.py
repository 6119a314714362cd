"""trends: minute counters per series, detector state, the event-time clock, detected trends,
per-topic thresholds; one open investigation per topic; cases by parent; signals by their own time

Revision ID: 0015_trends
Revises: 0014_canned_replies
Create Date: 2026-12-02 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0015_trends"
down_revision: str | None = "0014_canned_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OPEN_INVESTIGATION = "kind = 'investigation' AND status IN ('open', 'waiting')"


def upgrade() -> None:
    op.create_table(
        "trend_counts",
        sa.Column("series", sa.String(length=220), nullable=False),
        sa.Column("minute", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.Column("sentiment_sum", sa.Float(), nullable=False),
        sa.Column("reach_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("series", "minute", name=op.f("pk_trend_counts")),
    )
    op.create_index("ix_trend_counts_minute", "trend_counts", ["minute"], unique=False)
    op.create_table(
        "trend_series",
        sa.Column("series", sa.String(length=220), nullable=False),
        sa.Column("last_tick", sa.Integer(), nullable=False),
        sa.Column("active_until", sa.Integer(), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_trend_series")),
    )
    op.create_index("ix_trend_series_active_until", "trend_series", ["active_until"], unique=False)
    op.create_table(
        "trend_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("watermark", sa.Integer(), nullable=True),
        sa.Column("evaluated_through", sa.Integer(), nullable=True),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trend_clock")),
    )
    op.create_table(
        "trends",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("series", sa.String(length=220), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=True),
        sa.Column("detected_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("window_start", engine.db.UTCDateTime(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("negative_share", sa.Float(), nullable=False),
        sa.Column("reach", sa.Float(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("seasonal", sa.Boolean(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("attached", sa.Boolean(), nullable=False),
        sa.Column("paged", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", engine.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_trends_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trends")),
        sa.UniqueConstraint("series", "detected_at", name=op.f("uq_trends_series")),
    )
    op.create_index("ix_trends_case_id", "trends", ["case_id"], unique=False)
    op.create_index("ix_trends_detected_at_id", "trends", ["detected_at", "id"], unique=False)
    op.create_index("ix_trends_topic_detected_at", "trends", ["topic", "detected_at"], unique=False)
    op.create_table(
        "trend_thresholds",
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("min_volume", sa.Integer(), nullable=False),
        sa.Column("min_negative_share", sa.Float(), nullable=True),
        sa.Column("on_negative", sa.Boolean(), nullable=False),
        sa.Column("cooldown_minutes", sa.Integer(), nullable=False),
        sa.Column("page_severity", sa.Integer(), nullable=False),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_trend_thresholds")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_parent_id_status", ["parent_id", "status"], unique=False)
        batch_op.create_index(
            "uq_cases_open_investigation_topic",
            ["topic"],
            unique=True,
            sqlite_where=sa.text(OPEN_INVESTIGATION),
            postgresql_where=sa.text(OPEN_INVESTIGATION),
        )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index("ix_signals_posted_at", ["posted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_posted_at")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("uq_cases_open_investigation_topic")
        batch_op.drop_index("ix_cases_parent_id_status")
    op.drop_table("trend_thresholds")
    op.drop_index("ix_trends_topic_detected_at", table_name="trends")
    op.drop_index("ix_trends_detected_at_id", table_name="trends")
    op.drop_index("ix_trends_case_id", table_name="trends")
    op.drop_table("trends")
    op.drop_table("trend_clock")
    op.drop_index("ix_trend_series_active_until", table_name="trend_series")
    op.drop_table("trend_series")
    op.drop_index("ix_trend_counts_minute", table_name="trend_counts")
    op.drop_table("trend_counts")
