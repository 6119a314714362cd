"""Alembic environment: migrates the database Sift is configured for, or the
connection handed in by ``engine.migrate.upgrade`` (tests, ``sift serve``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import engine.models  # noqa: F401  (registers every table)
from engine.db import Base, get_engine

target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    with get_engine().connect() as conn:
        run(conn)
