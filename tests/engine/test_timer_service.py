"""The timer service across processes: a restart after SIGKILL, two workers on one table, and
the scheduler waking at a due time rather than at the next poll."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import func, select, update

from engine.db import unit_of_work, utcnow
from engine.events.models import ActivityEvent
from engine.timers import service as timers
from engine.timers.models import Timer
from engine.timers.poller import TimerService
from tests.engine.test_timers import _fast_sla, _open_case

ROOT = Path(__file__).resolve().parents[2]

COUNTING_WORKER = textwrap.dedent(
    """
    import sys, time
    from engine.db import unit_of_work, utcnow
    from engine.events import service as events
    from engine.timers import service as timers

    def count(session, timer):
        events.record(session, "test.counted", data={"timer": timer.id, "by": sys.argv[1]}, outbox=False)

    timers.register("test.count", count)
    fired, deadline = 0, time.monotonic() + 120
    while time.monotonic() < deadline:
        done = timers.run_due(owner=sys.argv[1], limit=25)
        fired += sum(1 for d in done if d.status == "fired")
        if not done:
            with unit_of_work() as s:
                if timers.next_due(s, utcnow()) is None:
                    break
            time.sleep(0.01)
    print(fired)
    """
)


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SIFT_DATABASE_URL": database_url,
        "SIFT_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }


def test_two_workers_fire_a_thousand_timers_due_in_the_same_second_exactly_once(db, tmp_path):
    due = utcnow()
    with unit_of_work() as s:
        timers.add_new(s, ({"kind": "test.count", "key": f"count:{i}", "due_at": due} for i in range(1000)))
    env = _env(db, tmp_path)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTING_WORKER, name],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    counts = [int(w.communicate(timeout=180)[0].strip() or 0) for w in workers]
    with unit_of_work() as s:
        effects = (
            s.execute(select(ActivityEvent.data).where(ActivityEvent.type == "test.counted")).scalars().all()
        )
        statuses = dict(s.execute(select(Timer.status, func.count()).group_by(Timer.status)).all())
    per_timer: dict[str, int] = {}
    for data in effects:
        per_timer[data["timer"]] = per_timer.get(data["timer"], 0) + 1
    assert len(per_timer) == 1000 and set(per_timer.values()) == {1}  # every timer once, none twice
    assert sum(counts) == 1000 and statuses == {"fired": 1000}
    if db.startswith("postgresql"):
        assert min(counts) > 0, counts  # both took part: SKIP LOCKED shared the rows


def test_after_a_sigkill_the_restarted_worker_fires_what_came_due_exactly_once(client, keys, db, tmp_path):
    _fast_sla(first_response="PT1H", resolution="PT2H", warning_at=0.5)
    case_ids = [_open_case(client, keys) for _ in range(3)]
    env = {**_env(db, tmp_path), "SIFT_TIMER_POLL_SECONDS": "30"}  # only the start-up round can fire them
    cmd = [sys.executable, "-m", "api.cli", "worker"]

    first, first_log = _start(cmd, env, tmp_path / "first.log")
    _wait_for_line(first, first_log, "running against")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    with unit_of_work() as s:  # while no process runs, the warnings come due
        s.execute(
            update(Timer)
            .where(Timer.case_id.in_(case_ids), Timer.key.like("sla.warning:%:first_response:%"))
            .values(due_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    second, second_log = _start(cmd, env, tmp_path / "second.log")
    try:
        _wait_for_line(second, second_log, "running against")
        started = time.monotonic()
        while time.monotonic() - started < 20 and _count("sla.warning", case_ids) < 3:
            time.sleep(0.05)
        took = time.monotonic() - started
        time.sleep(1.0)  # room for a second firing, which must not come
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=20)
    assert _count("sla.warning", case_ids) == 3, "each warning fired exactly once"
    assert took < 30, f"fired {took:.1f} s after the start, later than one poll interval"
    with unit_of_work() as s:
        stmt = select(Timer.status).where(
            Timer.case_id.in_(case_ids), Timer.key.like("sla.warning:%:first_response:%")
        )
        states = list(s.scalars(stmt))
    assert states == ["fired"] * 3


def test_the_scheduler_wakes_at_a_due_time_written_in_this_process_not_at_the_next_poll(db):
    fired_at: list[float] = []
    timers.register("test.wake", lambda session, timer: fired_at.append(time.monotonic()))
    service = TimerService(poll_seconds=60)
    service.start()
    try:
        time.sleep(0.2)  # the start-up round is over
        due_in = 0.5
        written = time.monotonic()
        with unit_of_work() as s:
            timers.schedule(s, "test.wake", "wake:1", utcnow() + _seconds(due_in))
        while not fired_at and time.monotonic() - written < 10:
            time.sleep(0.01)
    finally:
        service.stop()
        timers._HANDLERS.pop("test.wake", None)
    assert fired_at, "the timer did not fire before the next poll (60 s away)"
    assert fired_at[0] - written >= due_in - 0.05, "it fired before its due time"


def test_a_timer_written_while_a_round_picks_its_next_wake_fires_from_the_wake_not_the_next_poll(
    db, monkeypatch
):
    """The write lands after the round read the nearest due time and before it re-armed: the
    process hears of it only through its commit, and must still look at its due time."""
    fired: list[str] = []
    timers.register("test.race", lambda session, timer: fired.append(timer.key))
    read_nearest = timers.next_due

    def read_then_a_write_lands(session, now):
        nearest = read_nearest(session, now)
        if fired == ["race:1"]:  # the round that fired the first timer
            timers.schedule(session, "test.race", "race:2", utcnow())  # committed just after the read
        return nearest

    monkeypatch.setattr(timers, "next_due", read_then_a_write_lands)
    service = TimerService(poll_seconds=60)
    service.start()
    try:
        time.sleep(0.2)  # the start-up round is over
        with unit_of_work() as s:
            timers.schedule(s, "test.race", "race:1", utcnow() + _seconds(0.2))
        deadline = time.monotonic() + 10
        while len(fired) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        service.stop()
        timers._HANDLERS.pop("test.race", None)
    assert fired == ["race:1", "race:2"], "the second timer waited for the next poll (60 s away)"


def _seconds(value: float):
    from datetime import timedelta

    return timedelta(seconds=value)


def _count(type_: str, case_ids: list[str]) -> int:
    with unit_of_work() as s:
        stmt = (
            select(func.count())
            .select_from(ActivityEvent)
            .where(ActivityEvent.type == type_, ActivityEvent.case_id.in_(case_ids))
        )
        return int(s.scalar(stmt) or 0)


def _start(cmd: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, Path]:
    with open(log, "w") as out:  # a file, so a chatty worker never blocks on a full pipe
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT), log


def _wait_for_line(proc: subprocess.Popen, log: Path, needle: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"the worker did not say {needle!r} within {seconds} s")


def test_stopping_while_a_round_fires_returns_instead_of_deadlocking(db):
    import threading

    timers.register("test.slow_round", lambda session, timer: time.sleep(0.2))
    with unit_of_work() as s:
        timers.add_new(
            s, ({"kind": "test.slow_round", "key": f"slow-round:{i}", "due_at": utcnow()} for i in range(3))
        )
        timers.schedule(
            s, "test.slow_round", "later", utcnow() + _seconds(3600)
        )  # the round then arms a wake
    service = TimerService(poll_seconds=60)
    service.start()
    try:
        time.sleep(0.1)  # the start-up round is firing the first timer
        stopper = threading.Thread(target=service.stop, daemon=True)
        stopper.start()
        stopper.join(timeout=15)
        assert not stopper.is_alive(), "stop() hung while a round was arming the next wake"
    finally:
        timers._HANDLERS.pop("test.slow_round", None)
