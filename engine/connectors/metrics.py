"""Connectors, published. Counters are this process's; lag and failures are read from the
connectors table at scrape time, so every process reports the same figures.

Lag is how long ago the connector last had everything its source held: the end of a catch-up
or a poll, or the last mention (or clean end of a window) on a stream."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from engine.db import unit_of_work, utcnow

MENTIONS = Counter(
    "sift_connector_mentions",
    "Posts connectors offered to the inbox, by kind and outcome (new, repeat)",
    ["kind", "outcome"],
)
RUNS = Counter(
    "sift_connector_runs",
    "Connector runs by kind and outcome (ok, failed, rate_limited)",
    ["kind", "outcome"],
)


def observe_mentions(kind: str, new: int, repeats: int) -> None:
    if new:
        MENTIONS.labels(kind, "new").inc(new)
    if repeats:
        MENTIONS.labels(kind, "repeat").inc(repeats)


class ConnectorCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from engine.connectors.models import Connector

        now = utcnow()
        lag = GaugeMetricFamily(
            "sift_connector_lag_seconds",
            "Seconds since an enabled connector last had everything its source held",
            labels=["connector", "kind"],
        )
        failures = GaugeMetricFamily(
            "sift_connector_failures",
            "Failed runs in a row of an enabled connector",
            labels=["connector", "kind"],
        )
        with unit_of_work() as session:
            rows = session.execute(
                select(
                    Connector.name,
                    Connector.kind,
                    Connector.caught_up_at,
                    Connector.created_at,
                    Connector.failures,
                )
                .where(Connector.enabled.is_(True))
                .order_by(Connector.name)
            ).all()
        for name, kind, caught_up_at, created_at, failed in rows:
            since = caught_up_at or created_at
            lag.add_metric([name, kind], max(0.0, (now - since).total_seconds()))
            failures.add_metric([name, kind], failed)
        yield lag
        yield failures


_installed = False


def install_collector() -> None:
    global _installed
    if not _installed:
        REGISTRY.register(ConnectorCollector())
        _installed = True
