"""sla levels: the case's urgency

Revision ID: 0006_sla_levels
Revises: 0005_clocks
Create Date: 2026-12-01 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sla_levels"
down_revision: str | None = "0005_clocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("urgency", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_cases_urgency_created_at", ["urgency", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_urgency_created_at")
        batch_op.drop_column("urgency")
