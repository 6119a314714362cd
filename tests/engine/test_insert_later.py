"""Rows added with ``insert_later``: written with the session's new rows, gone with a rollback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from engine.auth.models import ApiKey
from engine.db import insert_later, new_id, unit_of_work, utcnow
from engine.timers.models import PENDING, Timer

TIMERS = cast(Table, Timer.__table__)


def _row(key: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "kind": "test",
        "key": key,
        "due_at": now + timedelta(hours=1),
        "status": PENDING,
        "case_id": None,
        "instance_id": None,
        "task_id": None,
        "data": {"n": 1},
        "attempts": 0,
        "created_at": now,
    }


def _keys() -> set[str]:
    with unit_of_work() as s:
        return set(s.scalars(select(Timer.key)))


def test_a_query_in_the_same_unit_of_work_sees_the_rows_and_the_commit_keeps_them(db):
    with unit_of_work() as s:
        insert_later(s, TIMERS, _row("a"))
        insert_later(s, TIMERS, _row("b"))
        assert s.scalar(select(func.count()).select_from(Timer)) == 2
        assert s.scalar(select(Timer.data).where(Timer.key == "a")) == {"n": 1}
    assert _keys() == {"a", "b"}


def test_rows_wait_for_the_flush_while_autoflush_is_off(db):
    with unit_of_work() as s:
        with s.no_autoflush:
            insert_later(s, TIMERS, _row("a"))
            assert s.scalar(select(func.count()).select_from(Timer)) == 0  # as a pending object
        s.flush()
        assert s.scalar(select(func.count()).select_from(Timer)) == 1


def test_a_rolled_back_savepoint_drops_its_rows_and_keeps_the_others(db):
    with unit_of_work() as s:
        insert_later(s, TIMERS, _row("kept"))
        with pytest.raises(RuntimeError), s.begin_nested():
            insert_later(s, TIMERS, _row("dropped"))
            raise RuntimeError("undo")
    assert _keys() == {"kept"}


@pytest.mark.parametrize("flush_inside", [True, False], ids=["flush inside", "flush at release"])
def test_a_savepoint_whose_flush_fails_drops_its_rows(db, flush_inside):
    # the worker's batch: a constraint race at the batch's flush redoes it one signal at a time
    with unit_of_work() as s:
        insert_later(s, TIMERS, _row("kept"))
        s.flush()
        with pytest.raises(IntegrityError), s.begin_nested():
            insert_later(s, TIMERS, _row("dropped"))
            s.add(ApiKey(name="clash", role="csr", key_hash="x" * 64))
            s.add(ApiKey(name="clash", role="csr", key_hash="y" * 64))
            if flush_inside:
                s.scalar(select(func.count()).select_from(Timer))  # autoflush
    assert _keys() == {"kept"}


def test_a_rolled_back_transaction_writes_nothing(db):
    with pytest.raises(RuntimeError), unit_of_work() as s:
        insert_later(s, TIMERS, _row("a"))
        raise RuntimeError("undo")
    assert _keys() == set()
