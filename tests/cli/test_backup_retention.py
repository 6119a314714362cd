"""sift backup / sift restore on the test backend (SQLite or PostgreSQL), and the retention job."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from api.cli import app
from engine.cases.models import Case
from engine.db import reset_engine_cache, unit_of_work, utcnow
from engine.events.models import ActivityEvent
from engine.retention import service as retention
from engine.signals.models import Signal
from tests.helpers import count, drain, signal_body

runner = CliRunner()


def _accept(n: int) -> list[str]:
    from api.signals.schemas import SignalIn
    from engine.signals import service as signals

    with unit_of_work() as s:
        return [a.id for a in signals.accept(s, [SignalIn(**signal_body()).to_engine() for _ in range(n)])]


def test_backup_then_restore_brings_back_exactly_the_backed_up_rows(db, tmp_path):
    kept = _accept(3)
    drain()
    cases = count(Case)
    target = tmp_path / "sift.backup"
    made = runner.invoke(app, ["backup", str(target)])
    assert made.exit_code == 0, made.output
    assert target.stat().st_size > 0
    again = runner.invoke(app, ["backup", str(target)])
    assert again.exit_code == 2 and "exists" in again.output
    later = _accept(2)  # written after the backup: gone after the restore
    drain()
    assert count(Signal) == 5
    reset_engine_cache()  # as after stopping sift serve: no connection held across the restore
    done = runner.invoke(app, ["restore", str(target), "--yes"])
    assert done.exit_code == 0, done.output
    reset_engine_cache()
    with unit_of_work() as s:
        ids = set(s.scalars(select(Signal.id)))
    assert ids == set(kept) and not ids & set(later)
    assert count(Case) == cases


def test_restore_refuses_a_file_that_is_not_a_backup(db, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    done = runner.invoke(app, ["restore", str(junk), "--yes"])
    assert done.exit_code == 2 and "error:" in done.output
    missing = runner.invoke(app, ["restore", str(tmp_path / "none"), "--yes"])
    assert missing.exit_code == 2 and "is not a file" in missing.output


def test_retention_archives_old_rows_but_never_what_a_live_case_or_the_inbox_needs(db, tmp_path):
    finished_sid, live_sid, no_case_sid = _accept(3)
    drain()
    (pending_sid,) = _accept(1)  # still in the inbox
    with unit_of_work() as s:
        finished = s.get(Signal, finished_sid).case_id
        live = s.get(Signal, live_sid).case_id
        s.execute(update(Case).where(Case.id == finished).values(status="resolved", resolved_at=utcnow()))
        s.execute(update(Signal).where(Signal.id == no_case_sid).values(status="ignored", case_id=None))
    events_of = {c: _events(c) for c in (finished, live)}
    assert events_of[finished] and events_of[live]
    future = utcnow() + timedelta(days=30)  # everything written above is 30 days old then
    done = retention.archive(8, now=future, folder=tmp_path / "archive")
    with unit_of_work() as s:
        left = set(s.scalars(select(Signal.id)))
    assert left == {live_sid, pending_sid}
    assert _events(finished) == 0 and _events(live) == events_of[live]
    assert done.signals == 2 and done.events >= events_of[finished]
    archived: list[dict] = []
    for name in done.files:
        if "signals-" in name:
            with gzip.open(name, "rt", encoding="utf-8") as f:
                archived += [json.loads(line) for line in f]
    assert {row["id"] for row in archived} == {finished_sid, no_case_sid}
    assert retention.archive(8, now=future, folder=tmp_path / "archive").signals == 0  # nothing twice


def test_a_retention_shorter_than_the_reopen_window_is_refused(db, settings_env):
    settings_env(retention_days=2)
    done = runner.invoke(app, ["archive"])
    assert done.exit_code == 2 and "shorter than the reopen" in done.output


def _events(case_id: str) -> int:
    with unit_of_work() as s:
        return len(list(s.scalars(select(ActivityEvent.seq).where(ActivityEvent.case_id == case_id))))
