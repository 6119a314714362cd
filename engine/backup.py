"""``sift backup`` and ``sift restore``: a copy of the whole database, taken while Sift runs.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the database page by page
into a new SQLite file, a consistent snapshot even while the server and workers write. Restore
copies a backup file back the same way, after checking it is a Sift database.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot, while Sift runs) and
``pg_restore --clean --if-exists --single-transaction`` (all or nothing); both must be on PATH
(Debian: postgresql-client). The password, if the URL has one, is passed in PGPASSWORD, not
on the command line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from engine.config import get_settings
from engine.errors import EngineError


class BackupFailed(EngineError):
    pass


def _url() -> URL:
    return make_url(get_settings().resolved_database_url)


def backup(target: Path) -> str:
    """Writes a backup of the configured database to ``target``; returns what it did."""
    url = _url()
    if target.exists():
        raise BackupFailed(f"{target} exists; choose a new file (a backup never overwrites one).")
    if url.get_backend_name() == "sqlite":
        src = _sqlite_path(url)
        with sqlite3.connect(src) as source, sqlite3.connect(target) as dest:
            source.backup(dest)
        dest.close()
        source.close()
        return f"SQLite online backup of {src} to {target} ({target.stat().st_size} bytes)"
    if url.get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq(url)], url)
        return f"pg_dump (custom format) of {url.database} to {target} ({target.stat().st_size} bytes)"
    raise BackupFailed(f"backup does not know the {url.get_backend_name()} database")


def restore(source: Path) -> str:
    """Replaces the configured database's contents with the backup in ``source``."""
    url = _url()
    if not source.is_file():
        raise BackupFailed(f"{source} is not a file.")
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(source)
        dest_path = _sqlite_path(url)
        with sqlite3.connect(source) as src, sqlite3.connect(dest_path) as dest:
            src.backup(dest)
        src.close()
        dest.close()
        return f"restored {dest_path} from {source}"
    if url.get_backend_name() == "postgresql":
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq(url)}",
                str(source),
            ],
            url,
        )
        return f"restored {url.database} from {source} (pg_restore)"
    raise BackupFailed(f"restore does not know the {url.get_backend_name()} database")


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database has nothing to back up")
    return url.database


def _check_sqlite_backup(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            found = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('alembic_version', 'signals')"
            ).fetchone()[0]
        conn.close()
    except sqlite3.DatabaseError as err:
        raise BackupFailed(f"{path} is not a SQLite database ({err}).") from err
    if found != 2:
        raise BackupFailed(f"{path} is a SQLite database but not a Sift one (no signals or alembic_version).")


def _libpq(url: URL) -> str:
    """The URL as libpq reads it: no SQLAlchemy driver name, no password (PGPASSWORD has it)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(argv: list[str], url: URL) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupFailed(
            f"{argv[0]} is not on PATH; install the PostgreSQL client tools (Debian: postgresql-client) "
            "of the server's major version or newer."
        )
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupFailed(f"{argv[0]} failed ({done.returncode}): {' / '.join(detail[-3:])}")
