"""Wakes the process to fire due timers: APScheduler only decides *when* to look.

An interval job polls (timers written by other processes show up within one interval), and a
date job is armed for the nearest due time after every round, and re-armed at once when this
process commits an earlier timer, so a timer fires at its due time rather than at the next
poll. The jobs only set an event; one thread runs the rounds, so a wake that comes during a
round makes that thread go round again and no wake is lost (a job that ran the round itself
could be skipped by APScheduler while the previous run of the same job was still finishing).
On PostgreSQL the timers one claim takes are fired by a few threads side by side.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.config import get_settings
from engine.db import get_engine, owner_name, unit_of_work, utcnow
from engine.timers import metrics, service

log = logging.getLogger("sift.timers")

# Each firing commits its own transaction, and on PostgreSQL a commit waits for its WAL flush
# (4 to 9 ms a firing on the shared 2-core machine), so one thread fires some 110 to 250 a
# second. Firings claimed together run side by side there, as they would in that many worker
# processes, and PostgreSQL flushes their commits together. SQLite has one writer: one thread.
POSTGRESQL_FIRING_THREADS = 4


# periodic jobs the layers above register (engine.bootstrap): name -> (seconds, function). They
# run in APScheduler's thread pool beside the firing thread, one run of each at a time.
_JOBS: dict[str, tuple[float, Callable[[], None]]] = {}


def register_job(name: str, seconds: float, fn: Callable[[], None]) -> None:
    _JOBS[name] = (seconds, fn)


class TimerService:
    """Fires due timers in a background thread until stopped."""

    def __init__(self, poll_seconds: float | None = None, firing_threads: int | None = None) -> None:
        settings = get_settings()
        self.firing_threads = firing_threads
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.timer_poll_seconds
        self.batch_size = settings.timer_batch_size
        self.owner = owner_name()
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None})
        self._look = threading.Event()  # set: a round should run (again)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._firing: ThreadPoolExecutor | None = None
        self._armed: datetime | None = None  # when the pending wake job runs, if one is pending
        self._arm_lock = threading.Lock()
        self.rounds = 0

    def start(self) -> None:
        if self.firing_threads is None:
            postgresql = get_engine().dialect.name == "postgresql"
            self.firing_threads = POSTGRESQL_FIRING_THREADS if postgresql else 1
        if self.firing_threads > 1:
            self._firing = ThreadPoolExecutor(self.firing_threads, thread_name_prefix="sift-timer-fire")
        self._scheduler.add_job(
            self._look.set, IntervalTrigger(seconds=self.poll_seconds), id="poll", coalesce=True
        )
        for name, (seconds, fn) in _JOBS.items():
            self._scheduler.add_job(
                fn, IntervalTrigger(seconds=seconds), id=f"job:{name}", coalesce=True, max_instances=1
            )
        self._scheduler.start()
        self._thread = threading.Thread(target=self._run, name="sift-timers", daemon=True)
        self._thread.start()
        service.on_new_due(self._arm)
        self._look.set()  # fire what came due while no process ran, right away

    def stop(self) -> None:
        service.remove_listener(self._arm)
        self._scheduler.shutdown(wait=True)
        self._stopping.set()
        self._look.set()
        if self._thread is not None:
            self._thread.join()
        if self._firing is not None:
            self._firing.shutdown(wait=True)

    def _arm(self, due_at: datetime) -> None:
        """Look at ``due_at`` (at once if it is due), unless a wake is pending at or before it."""
        with self._arm_lock:
            now = utcnow()
            if self._armed is not None and self._armed <= now:
                self._armed = None  # overdue: its job is running now, or was skipped; look now
                self._look.set()
            if due_at <= now:
                self._look.set()
            elif self._armed is None or due_at < self._armed:
                self._armed = due_at
                self._scheduler.add_job(
                    self._wake, DateTrigger(run_date=due_at), args=[due_at], id="wake", replace_existing=True
                )

    def _wake(self, due_at: datetime) -> None:
        with self._arm_lock:
            if self._armed == due_at:
                self._armed = None
        self._look.set()

    def _run(self) -> None:
        while True:
            self._look.wait()
            if self._stopping.is_set():
                return
            self._look.clear()  # before the round: a wake during it is seen by the next
            self._round()

    def _round(self) -> None:
        """Fire everything due, then arm the wake for the nearest pending timer."""
        try:
            self._fire_due()
            with unit_of_work() as session:
                nearest = service.next_due(session, utcnow())
            if nearest is not None:
                self._arm(nearest)
        except Exception:
            log.exception("timer round failed; the next poll tries again")
        finally:
            self.rounds += 1

    def _fire_due(self) -> None:
        while not self._stopping.is_set():
            started = time.perf_counter()
            claims = service.claim(owner=self.owner, limit=self.batch_size)
            if self._firing is None or len(claims) < 2:
                results = [service.fire(c) for c in claims]
            else:
                results = list(self._firing.map(service.fire, claims))
            metrics.observe_round(results, time.perf_counter() - started)
            if len(results) < self.batch_size:
                return
