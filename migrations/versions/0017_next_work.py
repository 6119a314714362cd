"""next work: partial indexes over the unheld open cases and tasks that Get Next Work ranks

Revision ID: 0017_next_work
Revises: 0016_web_sessions
Create Date: 2026-12-02 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_next_work"
down_revision: str | None = "0016_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNHELD_OPEN = "status = 'open' AND assignee IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_unheld_open_urgency",
            ["priority_rank", "urgency", "customer_points", "sla_due_at", "id"],
            unique=False,
            sqlite_where=sa.text(UNHELD_OPEN),
            postgresql_where=sa.text(UNHELD_OPEN),
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_unheld_open_case",
            ["case_id", "queue", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text(UNHELD_OPEN),
            postgresql_where=sa.text(UNHELD_OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_unheld_open_case")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_unheld_open_urgency")
