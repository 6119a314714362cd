"""`sift serve`, `sift worker` and `sift migrate` against a database whose schema is
missing, behind or from a newer Sift; two migrators at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from api.cli import app
from engine.migrate import alembic_config, schema_problem, upgrade
from tests.conftest import BACKEND, PG_ADMIN_URL, PG_PREFIX

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # this Sift's newest revision

runner = CliRunner()


def _use_settings(env: dict[str, str | None]) -> None:
    from engine.config import get_settings
    from engine.db import reset_engine_cache

    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
    reset_engine_cache()


@pytest.fixture
def settings_env() -> Iterator[None]:
    """Whatever a test points the settings at, the next test gets the session's database back."""
    saved = {name: os.environ.get(name) for name in ("SIFT_DATABASE_URL", "SIFT_DATA_DIR")}
    yield
    _use_settings(saved)


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as c:
        c.execute(sql)


@pytest.fixture
def blank_url(settings_env: None, tmp_path: Path, worker_id: str) -> Iterator[str]:
    """An empty database on the backend under test, which SIFT_DATABASE_URL names."""
    if BACKEND == "postgresql":
        name = f"{PG_PREFIX}_blank_{worker_id}"
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tmp_path / 'blank.db'}"
    _use_settings({"SIFT_DATABASE_URL": url})
    yield url
    if BACKEND == "postgresql":
        from engine.db import reset_engine_cache

        reset_engine_cache()
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables() -> set[str]:
    from engine.db import get_engine

    return set(inspect(get_engine()).get_table_names())


def _one_clear_line(result, *phrases: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the database at ")
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """`sift serve` goes as far as starting uvicorn, which is recorded instead of run."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def test_serve_and_worker_refuse_a_database_without_the_schema(blank_url, no_server):
    for command in (["serve", "--no-worker"], ["worker"]):
        result = runner.invoke(app, command)
        _one_clear_line(result, "has no Sift schema yet", "run `sift migrate`")
    assert no_server == []
    assert _tables() == set()  # checked, never created behind the operator's back


def test_after_sift_migrate_serve_starts(blank_url, no_server):
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "database at head" in result.stdout
    assert schema_problem(_engine()) is None
    result = runner.invoke(app, ["serve", "--no-worker", "--port", "8843"])
    assert result.exit_code == 0, result.output
    assert no_server and no_server[0]["port"] == 8843


def _engine():  # type: ignore[no-untyped-def]
    from engine.db import get_engine

    return get_engine()


@pytest.fixture
def newer_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """This Sift's migrations plus one more (``next``), as the next release would ship them."""
    scripts = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_cli_test.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = 'next'\ndown_revision = '{HEAD}'\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n    op.create_table('cli_test_marker', sa.Column('id', sa.Integer, primary_key=True))\n\n\n"
        "def downgrade():\n    op.drop_table('cli_test_marker')\n"
    )
    cfg = alembic_config()
    cfg.set_main_option("script_location", str(scripts))
    monkeypatch.setattr("engine.migrate.alembic_config", lambda: cfg)
    return cfg


def test_a_database_behind_head_is_refused_until_migrated(blank_url, no_server, newer_scripts):
    from alembic import command

    with _engine().begin() as conn:  # the database as the previous release left it
        newer_scripts.attributes["connection"] = conn
        command.upgrade(newer_scripts, HEAD)
    assert "cli_test_marker" not in _tables()
    for cmd in (["serve", "--no-worker"], ["worker"]):
        _one_clear_line(runner.invoke(app, cmd), f"at schema revision {HEAD}", "1 migration behind", "next")
    assert no_server == []
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert "cli_test_marker" in _tables()
    assert runner.invoke(app, ["serve", "--no-worker"]).exit_code == 0
    assert len(no_server) == 1


def test_a_database_from_a_newer_sift_is_refused(blank_url, no_server):
    upgrade(_engine())
    with _engine().begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    result = runner.invoke(app, ["serve", "--no-worker"])
    _one_clear_line(result, "schema revision 9999", "does not know", "newer Sift")
    assert no_server == []


def test_an_unreachable_database_is_one_line(settings_env, tmp_path, no_server):
    if BACKEND == "postgresql":
        url = PG_ADMIN_URL.replace("127.0.0.1:5432", "127.0.0.1:1")
    else:
        url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'sift.db'}"
    _use_settings({"SIFT_DATABASE_URL": url})
    for command in (["serve", "--no-worker"], ["worker"], ["migrate"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: cannot use the database at ")
    assert no_server == []


def test_serve_migrates_the_embedded_default_database(settings_env, tmp_path, no_server):
    _use_settings({"SIFT_DATABASE_URL": None, "SIFT_DATA_DIR": str(tmp_path / "data")})
    result = runner.invoke(app, ["serve", "--no-worker"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "sift.db").exists()
    assert schema_problem(_engine()) is None
    assert len(no_server) == 1


def test_two_migrators_at_once_apply_each_migration_once(blank_url):
    env = {**os.environ, "SIFT_DATABASE_URL": blank_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "database at head" in out
    with _engine().connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
    assert schema_problem(_engine()) is None


def _case_indexes() -> set[str]:
    return {ix["name"] for ix in inspect(_engine()).get_indexes("cases")}


def test_0022_drops_the_customer_index_the_composite_covers_and_downgrades(blank_url):
    from alembic import command

    cfg = alembic_config()
    upgrade(_engine(), "0021_process_drafts")
    assert {"ix_cases_customer_id", "ix_cases_customer_topic_status"} <= _case_indexes()
    upgrade(_engine())
    assert "ix_cases_customer_id" not in _case_indexes()
    assert "ix_cases_customer_topic_status" in _case_indexes()
    if BACKEND == "sqlite":  # a case's customer is still found through an index, not a scan
        with _engine().connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.execute(
                    text("EXPLAIN QUERY PLAN SELECT id FROM cases WHERE customer_id = 'c'")
                )
            )
        assert "USING INDEX ix_cases_customer_topic_status" in plan, plan
    with _engine().begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0021_process_drafts")
    assert "ix_cases_customer_id" in _case_indexes()
    upgrade(_engine())
    assert "ix_cases_customer_id" not in _case_indexes()
