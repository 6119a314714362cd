"""Wakes the process to fire due timers: APScheduler only decides *when* to look.

An interval job polls (timers written by other processes show up within one interval), and a
date job is armed for the nearest due time after every round, and re-armed at once when this
process commits an earlier timer, so a timer fires at its due time rather than at the next
poll. Both jobs run one round at a time; a wake during a round makes it go round again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.config import get_settings
from engine.db import new_id, unit_of_work, utcnow
from engine.timers import metrics, service

log = logging.getLogger("sift.timers")


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"


class TimerService:
    """Fires due timers in a background scheduler until stopped."""

    def __init__(self, poll_seconds: float | None = None) -> None:
        settings = get_settings()
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.timer_poll_seconds
        self.batch_size = settings.timer_batch_size
        self.owner = owner_name()
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None})
        self._round_lock = threading.Lock()
        self._again = threading.Event()
        self._armed: datetime | None = None
        self._arm_lock = threading.Lock()
        self._stopping = threading.Event()
        self.rounds = 0

    def start(self) -> None:
        self._scheduler.add_job(
            self._round, IntervalTrigger(seconds=self.poll_seconds), id="poll", coalesce=True, max_instances=1
        )
        self._scheduler.start()
        service.on_new_due(self._on_new_due)
        self._arm(utcnow())  # fire what came due while no process ran, right away

    def stop(self) -> None:
        """Lets a round in progress finish, then stops. No job adds another while it stops:
        APScheduler's shutdown holds the job-store lock while it waits for running jobs, so a
        job arming the next wake would wait for it forever."""
        self._stopping.set()
        service.remove_listener(self._on_new_due)
        with self._round_lock:
            pass
        self._scheduler.shutdown(wait=True)

    def _on_new_due(self, due_at: datetime) -> None:
        with self._arm_lock:
            if self._armed is not None and self._armed <= due_at:
                return
        self._arm(due_at)

    def _arm(self, due_at: datetime) -> None:
        if self._stopping.is_set():
            return
        with self._arm_lock:
            self._armed = due_at
            self._scheduler.add_job(
                self._round,
                DateTrigger(run_date=max(due_at, utcnow())),
                id="wake",
                replace_existing=True,
                coalesce=True,
            )

    def _round(self) -> None:
        """Fire everything due, then arm the wake for the nearest pending timer."""
        if self._stopping.is_set():
            return
        if not self._round_lock.acquire(blocking=False):
            self._again.set()
            return
        try:
            while not self._stopping.is_set():
                self._again.clear()
                self._fire_due()
                if not self._again.is_set():
                    break
            self._arm_nearest()
        except Exception:
            log.exception("timer round failed; the next poll tries again")
        finally:
            self._round_lock.release()
            self.rounds += 1

    def _fire_due(self) -> None:
        while not self._stopping.is_set():
            started = time.perf_counter()
            results = service.run_due(owner=self.owner, limit=self.batch_size)
            metrics.observe_round(results, time.perf_counter() - started)
            if len(results) < self.batch_size:
                return

    def _arm_nearest(self) -> None:
        with unit_of_work() as session:
            nearest = service.next_due(session, utcnow())
        with self._arm_lock:
            self._armed = None
        if nearest is not None:
            self._arm(nearest)
