"""sla calendars: business hours, holidays and overrides for SLA clocks

Revision ID: 0004_calendars
Revises: 0003_timers
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision: str = '0004_calendars'
down_revision: str | None = '0003_timers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sla_calendars',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('overrides', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('holiday_country', sa.String(length=16), nullable=True),
    sa.Column('holiday_subdivision', sa.String(length=64), nullable=True),
    sa.Column('working_day', sa.String(length=32), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sla_calendars'))
    )


def downgrade() -> None:
    op.drop_table('sla_calendars')
