"""incidents: failed tasks held at their element, and the called processes' versions an instance pins

Revision ID: 0013_incidents
Revises: 0012_experience
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = "0013_incidents"
down_revision: str | None = "0012_experience"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("process_version", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("element_name", sa.String(length=300), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(length=2000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("opened_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("last_failed_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", engine.db.UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_incidents_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instances.id"], name=op.f("fk_incidents_instance_id_process_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_status_opened_at", "incidents", ["status", "opened_at"])
    op.create_index("ix_incidents_instance_id_status", "incidents", ["instance_id", "status"])
    op.create_index("ix_incidents_case_id", "incidents", ["case_id"])
    op.create_index("ix_incidents_process_key_status", "incidents", ["process_key", "status"])
    with op.batch_alter_table("process_instances") as batch:
        batch.add_column(sa.Column("called_versions", JSON_DOC, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_column("called_versions")
    op.drop_index("ix_incidents_process_key_status", table_name="incidents")
    op.drop_index("ix_incidents_case_id", table_name="incidents")
    op.drop_index("ix_incidents_instance_id_status", table_name="incidents")
    op.drop_index("ix_incidents_status_opened_at", table_name="incidents")
    op.drop_table("incidents")
