"""experience: CSAT answers on cases and the weights of the experience score's factors

Revision ID: 0012_experience
Revises: 0011_collaboration
Create Date: 2026-12-02 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = "0012_experience"
down_revision: str | None = "0011_collaboration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "csat_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("received_at", engine.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_csat_answers_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_answers")),
        sa.UniqueConstraint("case_id", name=op.f("uq_csat_answers_case_id")),
    )
    op.create_table(
        "experience_weights",
        sa.Column("factor", sa.String(length=32), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("updated_at", engine.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("factor", name=op.f("pk_experience_weights")),
    )


def downgrade() -> None:
    op.drop_table("experience_weights")
    op.drop_table("csat_answers")
