"""Timer lag, published: firings by outcome, lateness, and what is overdue right now.

Counters and the lateness histogram are this process's; the overdue figures are read from the
timers table when scraped, so every process reports the same truth about the whole system.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from engine.db import unit_of_work, utcnow
from engine.timers.models import PENDING, Timer

FIRINGS = Counter("sift_timer_firings", "Timer firings by outcome", ["outcome"])
LATENESS = Histogram(
    "sift_timer_lateness_seconds",
    "How long after its due time a timer fired",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
ROUND = Histogram("sift_timer_round_seconds", "Time to claim and fire one batch of due timers")


def observe_round(results: Iterable[Any], seconds: float) -> None:
    any_claimed = False
    for result in results:
        any_claimed = True
        FIRINGS.labels(result.status).inc()
        if result.lateness_ms is not None:
            LATENESS.observe(max(0.0, result.lateness_ms / 1000.0))
    if any_claimed:
        ROUND.observe(seconds)


class OverdueCollector(Collector):
    """Pending timers past their due time, and the age of the oldest, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        with unit_of_work() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(Timer.due_at)).where(
                    Timer.status == PENDING, Timer.due_at <= now
                )
            ).one()
        yield GaugeMetricFamily("sift_timers_overdue", "Pending timers past their due time", value=count)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "sift_timer_oldest_overdue_seconds", "Age of the oldest overdue pending timer", value=age
        )


_installed = False


def install_collector() -> None:
    """Adds the overdue collector to the default registry once per process."""
    global _installed
    if not _installed:
        REGISTRY.register(OverdueCollector())
        _installed = True
