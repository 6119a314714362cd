"""stage clocks: the open stages' SLA clocks on the case, and room for a stage in sla_target

Revision ID: 0007_stage_clocks
Revises: 0006_sla_levels
Create Date: 2026-12-01 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_stage_clocks"
down_revision: str | None = "0006_sla_levels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_stages", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True)
        )
        batch_op.alter_column(
            "sla_target", existing_type=sa.String(length=16), type_=sa.String(length=80), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column(
            "sla_target", existing_type=sa.String(length=80), type_=sa.String(length=16), existing_nullable=True
        )
        batch_op.drop_column("sla_stages")
