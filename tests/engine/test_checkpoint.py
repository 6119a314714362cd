"""The write-ahead log is copied into an SQLite database by a thread of its own."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import text

from engine.db import AUTOCHECKPOINT_PAGES, Checkpointer, get_engine, start_checkpointer, unit_of_work


def _wal_database(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(2000)])


def test_a_checkpoint_copies_the_log_written_by_another_connection(tmp_path):
    path = str(tmp_path / "w.db")
    _wal_database(path)
    writer = sqlite3.connect(path)
    writer.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    writer.executemany("INSERT INTO t VALUES (?)", [("y" * 500,) for _ in range(2000)])
    writer.commit()
    reader = sqlite3.connect(path)
    busy, frames, copied = Checkpointer(path).checkpoint(reader)
    assert (busy, copied) == (0, frames) and frames > 0
    writer.close()
    reader.close()


class _Recording(Checkpointer):
    def __init__(self, path: str) -> None:
        super().__init__(path, interval=0.01)
        self.copied: list[int] = []

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        found = super().checkpoint(conn)
        self.copied.append(found[2])
        return found


def test_the_thread_checkpoints_until_stopped(tmp_path):
    path = str(tmp_path / "w.db")
    _wal_database(path)
    checkpointer = _Recording(path)
    checkpointer.start()
    try:
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            conn.executemany("INSERT INTO t VALUES (?)", [("z" * 500,) for _ in range(2000)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(checkpointer.copied):
            time.sleep(0.02)
    finally:
        checkpointer.stop()
    assert any(checkpointer.copied)  # it copied the frames the writer left
    assert not any(t.name == "sift-checkpoint" and t.is_alive() for t in threading.enumerate())


def test_the_application_database_gets_one_when_it_is_an_sqlite_file(db):
    with unit_of_work() as s:
        s.execute(text("SELECT 1"))
    checkpointer = start_checkpointer()
    try:
        assert (checkpointer is not None) == (get_engine().dialect.name == "sqlite")
    finally:
        if checkpointer is not None:
            checkpointer.stop()
