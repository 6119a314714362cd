"""api keys: no part of a key stored (drop prefix), last_used_at

The prefix column held a key's first 8 characters in plain text, which is the whole key when it
is short (a hand-picked bootstrap key). No part of a key is kept now; only its SHA-256.

Revision ID: 0002_keys
Revises: 0001
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = '0002_keys'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('prefix')
        batch.add_column(sa.Column('last_used_at', engine.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # the prefixes are gone for good: an older release sees an empty one
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('last_used_at')
        batch.add_column(sa.Column('prefix', sa.String(length=12), nullable=False, server_default=''))
