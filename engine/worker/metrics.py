"""The inbox and the worker, published: batch and enrichment time, signals handled by outcome,
and, read from the database at scrape time, the inbox's depth and age and the connection pool.

Counters and histograms are this process's (Prometheus sums them over processes); the inbox
figures are the whole system's, as every process reads the same table.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from engine.db import get_engine, unit_of_work, utcnow
from engine.signals.models import BUFFERED, PENDING, Signal

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH = Histogram(
    "sift_worker_batch_seconds", "Time to claim, handle and commit one batch of signals", buckets=_SECONDS
)
ENRICHMENT = Histogram(
    "sift_enrichment_seconds", "NLP enrichment time of one batch of signals", buckets=_SECONDS
)
HANDLED = Counter(
    "sift_signals_handled", "Signals the worker committed, by the status they reached", ["status"]
)


class InboxCollector(Collector):
    """Signals waiting to be handled and how long the oldest has waited; the pool's connections."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        depth = GaugeMetricFamily("sift_inbox_depth", "Signals not handled yet, by status", labels=["status"])
        with unit_of_work() as session:
            rows = session.execute(
                select(Signal.status, func.count(), func.min(Signal.received_at))
                .where(Signal.status.in_((PENDING, BUFFERED)))
                .group_by(Signal.status)
            ).all()
        oldest = None
        counts = {PENDING: 0, BUFFERED: 0}
        for status, count, first in rows:
            counts[status] = count
            if status == PENDING:
                oldest = first
        for status, count in counts.items():
            depth.add_metric([status], count)
        yield depth
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "sift_inbox_oldest_pending_seconds", "How long the oldest pending signal has waited", value=age
        )
        pool = get_engine().pool
        for name, read in (("checked_out", "checkedout"), ("size", "size"), ("overflow", "overflow")):
            method = getattr(pool, read, None)
            if callable(method):
                yield GaugeMetricFamily(
                    f"sift_db_pool_{name}",
                    f"Database connection pool: {name.replace('_', ' ')}",
                    value=method(),
                )


_installed = False


def install_collector() -> None:
    """Adds the inbox collector to the default registry once per process."""
    global _installed
    if not _installed:
        REGISTRY.register(InboxCollector())
        _installed = True
