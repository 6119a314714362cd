"""Test databases: every run targets one backend (SIFT_TEST_DB=sqlite|postgresql),
each xdist worker gets its own database built by ``alembic upgrade head``, and
every test that asks for ``db`` starts from empty tables plus the shipped
definitions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

BACKEND = os.environ.get("SIFT_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("SIFT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# several checkouts on one machine each set their own prefix, so their runs never drop each other's databases
PG_PREFIX = os.environ.get("SIFT_TEST_DB_PREFIX", "sift_test")


def _pg_database(worker_id: str) -> str:
    import psycopg

    name = f"{PG_PREFIX}_{worker_id}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    if BACKEND == "postgresql":
        return _pg_database(worker_id)
    if BACKEND != "sqlite":
        raise pytest.UsageError(f"SIFT_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'sift.db'}"


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from engine.config import get_settings
    from engine.db import get_engine, reset_engine_cache
    from engine.migrate import upgrade

    os.environ["SIFT_DATABASE_URL"] = database_url
    os.environ["SIFT_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    os.environ.pop("SIFT_BOOTSTRAP_ADMIN_KEY", None)
    get_settings.cache_clear()
    reset_engine_cache()
    upgrade(get_engine())
    yield database_url
    reset_engine_cache()


def _empty_tables() -> None:
    from engine.db import Base, get_engine

    engine = get_engine()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def db(migrated: str) -> Iterator[str]:
    """Empty tables, the shipped definitions deployed, and no cached compilations."""
    from engine import bootstrap
    from engine.processes import instances
    from engine.processes import service as definitions

    _empty_tables()
    definitions.clear_cache()
    instances.clear_cache()
    bootstrap.prepare()
    yield migrated


@pytest.fixture
def session(db: str) -> Iterator[object]:
    from engine.db import unit_of_work

    with unit_of_work() as s:
        yield s


def _key(role: str, name: str | None = None) -> str:
    from engine.auth import service as auth
    from engine.db import unit_of_work

    with unit_of_work() as s:
        _, raw = auth.create_key(s, name or role, role)
    return raw


@pytest.fixture
def keys(db: str) -> dict[str, str]:
    """A raw key per role, each held by a key named after the role (csr2 is a second CSR)."""
    roles = ["integration", "csr", "supervisor", "process_owner", "admin"]
    made = {role: _key(role) for role in roles}
    made["csr2"] = _key("csr", "csr2")
    return made


@pytest.fixture
def app(db: str):  # type: ignore[no-untyped-def]
    from api.app import create_app

    return create_app(run_worker=False)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session", autouse=True)
def _operations_registered() -> None:
    """Sift's case operations and timer handlers are registered, as at every start-up: the
    shipped process calls case.escalate, so parsing it needs them whatever test runs first."""
    from engine import bootstrap

    bootstrap.register_operations()


@pytest.fixture
def settings_env(monkeypatch):  # type: ignore[no-untyped-def]
    """Sets SIFT_ settings for one test (the settings object is rebuilt, and again afterwards)."""
    from engine.config import get_settings

    def put(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"SIFT_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield put
    monkeypatch.undo()
    get_settings.cache_clear()
