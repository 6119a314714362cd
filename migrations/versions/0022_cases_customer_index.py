"""cases: drop ix_cases_customer_id, which ix_cases_customer_topic_status already covers

Every query of cases by customer (``customer_id = ?`` or ``IN``, with or without the topic)
and the foreign key's checks can use ix_cases_customer_topic_status, whose leading column is
customer_id, on SQLite and PostgreSQL alike; the lone index only cost every insert of a case
one more b-tree to write.

Revision ID: 0022_cases_customer_index
Revises: 0021_process_drafts
Create Date: 2026-12-03 14:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_cases_customer_index"
down_revision: str | None = "0021_process_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_cases_customer_id", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"], unique=False)
