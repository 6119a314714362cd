"""The threads of one process take SQLite's write lock in turn, woken as the one before ends."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from engine.db import WriteTurns, make_engine


def test_turns_go_in_the_order_they_were_asked_for():
    turns = WriteTurns()
    first = object()
    assert turns.take(first)
    order: list[str] = []
    threads = []
    for name in ("a", "b", "c"):
        holder = object()

        def wait(name: str = name, holder: object = holder) -> None:
            assert turns.take(holder)
            order.append(name)
            turns.give(holder)

        thread = threading.Thread(target=wait)
        thread.start()
        threads.append(thread)
        while len(turns._queue) < len(threads):  # queued before the next asks
            time.sleep(0.001)
    turns.give(first)
    for thread in threads:
        thread.join(5)
    assert order == ["a", "b", "c"] and not turns.holds(first)


def test_the_holder_asks_again_behind_those_waiting():
    turns = WriteTurns()
    worker = object()
    assert turns.take(worker)
    got: list[str] = []
    api = object()

    def post() -> None:
        assert turns.take(api)
        got.append("api")
        turns.give(api)

    thread = threading.Thread(target=post)
    thread.start()
    while not turns._queue:
        time.sleep(0.001)
    turns.give(worker)  # the worker's commit hands over to the waiting request ...
    thread.join(5)
    assert turns.take(worker)  # ... before its next batch begins
    assert got == ["api"]
    turns.give(worker)


def test_a_thread_that_holds_a_turn_does_not_wait_for_itself():
    turns = WriteTurns(timeout=5)
    assert turns.take(object())
    started = time.monotonic()
    assert turns.take(object()) is False  # goes ahead to SQLite's own wait, as before
    assert time.monotonic() - started < 1


def test_a_wait_past_the_timeout_goes_ahead_without_a_turn():
    turns = WriteTurns(timeout=0.05)
    holder = object()
    assert turns.take(holder)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(turns.take(object())))
    thread.start()
    thread.join(5)
    assert result == [False] and not turns._queue and turns.holds(holder)


def test_giving_a_turn_not_held_changes_nothing():
    turns = WriteTurns()
    holder = object()
    assert turns.take(holder)
    turns.give(object())
    assert turns.holds(holder)


def test_transactions_of_an_engine_end_their_turn_on_commit_and_rollback(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        done: list[int] = []

        def write(x: int) -> None:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
                done.append(x)

        with engine.connect() as conn:
            conn.begin()
            conn.execute(text("INSERT INTO t VALUES (0)"))
            writer = threading.Thread(target=write, args=(1,))
            writer.start()
            time.sleep(0.1)
            assert done == []  # waits for its turn
            conn.rollback()
        writer.join(10)
        assert done == [1]
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (2)"))
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        write(3)  # neither the failed transaction nor the commits left a turn held
        with engine.connect() as conn:
            assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 3]
    finally:
        engine.dispose()
