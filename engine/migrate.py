"""Brings a database to the newest schema with Alembic (the only way the schema changes)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

# the repository's migrations/ folder, which the wheel carries as this package (see setup.py)
MIGRATIONS_PACKAGE = "engine.migrations"


def alembic_config() -> Config:
    """Alembic's configuration, built in code so an installed Sift needs no alembic.ini
    (that file serves developers running ``alembic`` in the repository)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files(MIGRATIONS_PACKAGE)))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
