"""The signal worker: claims pending signals in batches, one transaction a batch.

Fast path: every signal of the batch is handled in memory and the batch is
written by one flush inside a SAVEPOINT (the ORM then inserts each table's
rows together). If any signal fails, or the batch flush fails (a constraint
race with another worker), the savepoint rolls back and the batch is redone
the slow way: one SAVEPOINT per signal, so a bad one rolls back alone and its
attempt is recorded.

A failed signal is retried with backoff; after ``signal_max_attempts`` it is
``failed`` with its error, never lost. On PostgreSQL the claim uses ``FOR
UPDATE SKIP LOCKED`` so any number of workers share one inbox; a worker that
dies leaves its batch uncommitted and pending.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine import nlp
from engine.config import get_settings
from engine.customers import service as customers
from engine.db import Checkpointer, start_checkpointer, unit_of_work, utcnow
from engine.errors import EngineError
from engine.events import service as events
from engine.signals import intake as broker
from engine.signals import service as signals
from engine.signals.models import BUFFERED, PENDING, Signal
from engine.trends import counting as trend_counts
from engine.trends import detection
from engine.worker import metrics, pipeline

log = logging.getLogger("sift.worker")


def claim(
    session: Session, limit: int, *, ids: list[str] | None = None, due_before: datetime | None = None
) -> list[Signal]:
    """Up to ``limit`` signals due by ``due_before`` (default now), only those of ``ids`` if given
    (the NATS intake: the ids of the fetched messages)."""
    stmt = (
        select(Signal)
        .where(Signal.status.in_((PENDING, BUFFERED)), Signal.next_attempt_at <= (due_before or utcnow()))
        # a batch posted at once (one received_at) is taken in its mentions' own time order, so a
        # replay of history moves the trends' event-time watermark forward, never past a signal
        # still waiting in the inbox
        .order_by(Signal.next_attempt_at, Signal.received_at, Signal.posted_at, Signal.id)
        .limit(limit)
    )
    if ids is not None:
        stmt = stmt.where(Signal.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


class _Redo(Exception):
    """A signal failed on the fast path: redo the batch one savepoint at a time."""


def run_once(
    limit: int | None = None, *, ids: list[str] | None = None, due_before: datetime | None = None
) -> int:
    """Processes one batch; returns how many signals it claimed. When the batch moved the
    trends' event-time watermark, detection runs after its commit (in its own transaction).
    ``ids`` and ``due_before`` narrow the claim (see :func:`claim`)."""
    limit = limit or get_settings().worker_batch_size
    started = time.perf_counter()
    with unit_of_work() as session:
        claimed, moved, reached = _batch(session, claim(session, limit, ids=ids, due_before=due_before))
    for status, count in reached.items():  # committed: counted once
        metrics.HANDLED.labels(status).inc(count)
    if claimed:
        metrics.BATCH.observe(time.perf_counter() - started)
    if moved:
        detection.run_safely()
    return claimed


def _batch(session: Session, batch: list[Signal]) -> tuple[int, bool, Counter[str]]:
    """One claimed batch in the caller's transaction: (signals claimed, whether the watermark
    moved, the statuses its signals reached)."""
    if not batch:
        return 0, False, Counter()
    enriching = time.perf_counter()
    enrichments = _enrich_all(batch)
    metrics.ENRICHMENT.observe(time.perf_counter() - enriching)
    settings = get_settings()
    found = customers.prefetch(session, [(s.source, s.author or {}) for s in batch])
    pipeline.prefetch_cases(session, [c.id for c in found], timedelta(seconds=settings.reopen_window_seconds))
    window = timedelta(seconds=settings.duplicate_window_seconds)
    signals.prefetch_bursts(session, batch, window)
    events_before = len(events.pending(session))
    try:
        with session.begin_nested():
            for signal, enrichment in zip(batch, enrichments, strict=True):
                _handle_in_memory(session, signal, enrichment)
            moved = trend_counts.write(session)
    except (_Redo, DBAPIError) as err:
        log.info("batch of %d redone one by one (%s)", len(batch), type(err).__name__)
        del events.pending(session)[events_before:]
        trend_counts.discard(session)
        for signal, enrichment in zip(batch, enrichments, strict=True):
            process_one(session, signal, enrichment)
        moved = trend_counts.write(session)
    return len(batch), moved, Counter(s.status for s in batch)


def _handle_in_memory(session: Session, signal: Signal, enrichment: dict[str, Any] | None) -> None:
    """Handles ``signal`` without writing; any error sends the whole batch down the slow path,
    where the failing signal is undone alone and its attempt recorded (failures are rare)."""
    try:
        with session.no_autoflush:
            pipeline.handle(session, signal, enrichment or nlp.enrich(signal.text, signal.author or {}))
    except Exception as err:
        raise _Redo() from err


def _enrich_all(batch: list[Signal]) -> list[dict[str, Any] | None]:
    try:
        return list(nlp.enrich_many((s.text, s.author or {}) for s in batch))
    except Exception:  # one odd text must not sink the batch; each is retried alone below
        log.exception("batch enrichment failed; enriching one by one")
        return [None] * len(batch)


def process_one(session: Session, signal: Signal, enrichment: dict[str, Any] | None) -> bool:
    """Handles ``signal`` inside a savepoint; on error records the attempt instead."""
    events_before = len(events.pending(session))
    counted_before = len(trend_counts.pending(session))
    try:
        with session.begin_nested(), session.no_autoflush:
            # one flush, when the savepoint is released; ids are assigned up front
            pipeline.handle(session, signal, enrichment or nlp.enrich(signal.text, signal.author or {}))
        return True
    except Exception as err:
        del events.pending(session)[events_before:]
        del trend_counts.pending(session)[counted_before:]
        record_failure(session, signal, err)
        return False


def record_failure(session: Session, signal: Signal, err: Exception) -> None:
    settings = get_settings()
    detail = err.detail if isinstance(err, EngineError) else "internal error"
    failed = signals.record_failure(
        signal,
        f"{type(err).__name__}: {detail}",
        max_attempts=settings.signal_max_attempts,
        retry_base_seconds=settings.signal_retry_base_seconds,
    )
    if failed:
        log.error(
            "signal %s failed for good after %d attempts: %s", signal.id, signal.attempts, type(err).__name__
        )
    else:
        log.warning("signal %s attempt %d failed: %s", signal.id, signal.attempts, type(err).__name__)
    if not isinstance(err, EngineError):
        log.error("unexpected error on signal %s", signal.id, exc_info=err)


def tune_gc(threshold: int) -> None:
    """Fewer cyclic-GC passes for a long-running worker process.

    Start-up objects (the NLP pipeline, compiled processes) are frozen out of
    collection and generation 0 is collected every ``threshold`` allocations
    instead of 700: measured on the reactive case, GC time per signal went from
    0.34 ms to 0.06 ms. ``threshold`` 0 leaves Python's settings alone.
    """
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 100)


def tune_malloc(arenas: int, mmap_threshold: int) -> bool:
    """Bounds what glibc's allocator keeps in a long-running process with several threads (API,
    worker, timers, deliveries); False where the C library has no ``mallopt`` (musl, macOS).

    By default every thread that meets contention gets an arena of its own (up to 8 per core),
    each holding on to the memory its thread freed, and blocks of up to 32 MiB come from the
    heap once a large one was freed. Two arenas (the usual ``MALLOC_ARENA_MAX=2`` advice for
    threaded Python servers) and a fixed 1 MiB map threshold (larger blocks mapped, and unmapped
    when freed) took ``bench/ingest.py``'s peak from 248-249 MB to 238 MB in alternated runs,
    with no CPU cost the runs could tell; a 128 KiB threshold gave 236 MB but cost about 20%
    more CPU per signal (blocks of a few hundred KiB mapped and unmapped over and over).
    0 leaves glibc's setting alone. Called before the process starts its threads.
    """
    import ctypes

    # the symbols the process has loaded, the C library's among them: no search for the library
    # (ctypes.util.find_library runs ldconfig in a child process)
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    m_mmap_threshold, m_arena_max = -3, -8  # glibc's malloc.h
    if mmap_threshold:
        mallopt(m_mmap_threshold, mmap_threshold)
    if arenas:
        mallopt(m_arena_max, arenas)
    return True


class Worker:
    """Runs batches in a background thread until stopped; ``wake()`` skips the poll wait.

    With ``SIFT_INTAKE=nats`` it takes its batches from the JetStream intake's messages and
    sweeps the inbox table every ``nats_sweep_seconds`` for what the broker did not carry
    (``engine/signals/intake.py``)."""

    def __init__(self, poll_seconds: float | None = None) -> None:
        self.poll_seconds = poll_seconds if poll_seconds is not None else get_settings().worker_poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._intake: broker.JetStreamIntake | None = None
        self._checkpointer: Checkpointer | None = None

    def start(self) -> None:
        nlp.get_pipeline()  # built before the first signal waits for it
        tune_gc(get_settings().gc_threshold)
        self._checkpointer = start_checkpointer()  # SQLite: the batch commits do not copy the log
        if broker.enabled():
            self._intake = broker.JetStreamIntake()
        run = self._run if self._intake is None else self._run_intake
        self._thread = threading.Thread(target=run, name="sift-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._intake is not None:
            self._intake.close()
        if self._checkpointer is not None:
            self._checkpointer.stop(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = run_once()
            except Exception:
                log.exception("worker batch failed; retrying after a pause")
                claimed = 0
            if claimed == 0:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _run_intake(self) -> None:
        assert self._intake is not None
        settings = get_settings()
        next_sweep = 0.0
        while not self._stop.is_set():
            try:
                intake_round(self._intake, settings.worker_batch_size, self.poll_seconds)
                if time.monotonic() >= next_sweep:
                    sweep(settings.nats_sweep_grace_seconds)
                    next_sweep = time.monotonic() + settings.nats_sweep_seconds
            except Exception:
                log.exception("worker intake round failed; retrying after a pause")
                self._stop.wait(self.poll_seconds)


def intake_round(intake: broker.JetStreamIntake, batch: int, wait: float) -> int:
    """Fetches up to ``batch`` messages, handles their signals in one batch, then acks them all
    (signals handled before, or not due, are skipped: the database decides). An error leaves
    them unacked, to be delivered again. Returns how many messages were acked."""
    deliveries = intake.fetch(batch, wait)
    if not deliveries:
        return 0
    ids = sorted({d.signal_id for d in deliveries})
    run_once(len(ids), ids=ids)
    intake.ack(deliveries)
    return len(deliveries)


def sweep(grace_seconds: float, rounds: int = 20) -> int:
    """Handles inbox signals due for longer than ``grace_seconds`` (what the intake did not bring:
    a failed publish, a retry, the end of a reply's buffer window); returns how many."""
    total = 0
    for _ in range(rounds):
        claimed = run_once(due_before=utcnow() - timedelta(seconds=grace_seconds))
        total += claimed
        if not claimed:
            break
    return total
