"""sla clocks pause and the next response

Revision ID: 0005_clocks
Revises: 0004_calendars
Create Date: 2026-12-01 19:44:39.446368
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import engine.db

revision: str = '0005_clocks'
down_revision: str | None = '0004_calendars'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_paused_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_seconds', sa.Double(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_response_since', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_response_due_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_reply_at', engine.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('last_reply_at')
        batch_op.drop_column('next_response_due_at')
        batch_op.drop_column('next_response_since')
        batch_op.drop_column('sla_paused_seconds')
        batch_op.drop_column('sla_paused_at')

