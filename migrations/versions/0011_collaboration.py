"""collaboration: comments and their mentions, links between cases, merging, writing leases on tasks

Revision ID: 0011_collaboration
Revises: 0010_queues
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0011_collaboration"
down_revision: str | None = "0010_queues"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_cases_merged_into", ["merged_into"], unique=False)
        batch_op.create_foreign_key(op.f("fk_cases_merged_into_cases"), "cases", ["merged_into"], ["id"])
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("writer", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("writing_since", engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("writing_until", engine.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "comments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("mentions", JSON, nullable=False),
        sa.Column("merged_from", sa.String(length=32), nullable=True),
        sa.Column("created_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_comments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(
        "ix_comments_case_id_created_at_id", "comments", ["case_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "mentions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("comment_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=80), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("excerpt", sa.String(length=300), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_mentions_case_id_cases")),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"], name=op.f("fk_mentions_comment_id_comments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint("comment_id", "user", name=op.f("uq_mentions_comment_id_user")),
    )
    op.create_index("ix_mentions_case_id", "mentions", ["case_id"], unique=False)
    op.create_index("ix_mentions_comment_id", "mentions", ["comment_id"], unique=False)
    op.create_index("ix_mentions_user_created_at_id", "mentions", ["user", "created_at", "id"], unique=False)
    op.create_table(
        "case_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("pair", sa.String(length=65), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["cases.id"], name=op.f("fk_case_links_source_id_cases")),
        sa.ForeignKeyConstraint(["target_id"], ["cases.id"], name=op.f("fk_case_links_target_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint("pair", name=op.f("uq_case_links_pair")),
    )
    op.create_index("ix_case_links_source_id", "case_links", ["source_id"], unique=False)
    op.create_index("ix_case_links_target_id", "case_links", ["target_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_links_target_id", table_name="case_links")
    op.drop_index("ix_case_links_source_id", table_name="case_links")
    op.drop_table("case_links")
    op.drop_index("ix_mentions_user_created_at_id", table_name="mentions")
    op.drop_index("ix_mentions_comment_id", table_name="mentions")
    op.drop_index("ix_mentions_case_id", table_name="mentions")
    op.drop_table("mentions")
    op.drop_index("ix_comments_case_id_created_at_id", table_name="comments")
    op.drop_table("comments")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("writing_until")
        batch_op.drop_column("writing_since")
        batch_op.drop_column("writer")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_cases_merged_into_cases"), type_="foreignkey")
        batch_op.drop_index("ix_cases_merged_into")
        batch_op.drop_column("merged_into")
