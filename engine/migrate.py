"""Brings a database to the newest schema with Alembic (the only way the schema changes)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

# the repository's migrations/ folder, which the wheel carries as this package (see setup.py)
MIGRATIONS_PACKAGE = "engine.migrations"

# PostgreSQL advisory lock key held while migrating (engine.bootstrap holds 7301 while preparing)
MIGRATION_LOCK = 7300


def alembic_config() -> Config:
    """Alembic's configuration, built in code so an installed Sift needs no alembic.ini
    (that file serves developers running ``alembic`` in the repository)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files(MIGRATIONS_PACKAGE)))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        _lock_for_migration(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _lock_for_migration(conn: Connection) -> None:
    """One migrator at a time, so two ``sift migrate`` (or start-ups) at once apply each
    migration once. On PostgreSQL the second waits on an advisory lock held until the
    first one's transaction ends, then reads the version table and finds it at head;
    migrations run in that same transaction (PostgreSQL's DDL is transactional). SQLite
    needs nothing here: engine.db begins every transaction with BEGIN IMMEDIATE, which
    lets one writer in at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def schema_problem(engine: Engine, cfg: Config | None = None) -> str | None:
    """None when the database's schema revision is this Sift's newest (Alembic's head);
    otherwise what is wrong and what to run, as the end of a sentence that starts with
    the database's name."""
    script = ScriptDirectory.from_config(cfg or alembic_config())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return None
    if not current:
        return "has no Sift schema yet; run `sift migrate` to create it"
    unknown = sorted(rev for rev in current if not _known(script, rev))
    if unknown:
        return (
            f"is at schema revision {', '.join(unknown)}, which this version of Sift does not know "
            "(a newer Sift migrated it); run that newer Sift"
        )
    pending = len(list(script.iterate_revisions(tuple(heads), tuple(current))))
    return (
        f"is at schema revision {', '.join(sorted(current))}, {pending} migration{'s' * (pending != 1)} "
        f"behind this Sift's {', '.join(sorted(heads))}; run `sift migrate` to bring it up to date"
    )


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        script.get_revision(revision)
    except CommandError:
        return False
    return True
