"""Incidents on /metrics, read from the incidents table when scraped (the same truth from
every process): how many are open per process, and how many were ever opened and resolved."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.incidents.models import OPEN, RESOLVED, Incident


class IncidentCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with unit_of_work() as session:
            rows = session.execute(
                select(Incident.process_key, Incident.status, func.count()).group_by(
                    Incident.process_key, Incident.status
                )
            ).all()
        open_now = GaugeMetricFamily(
            "sift_incidents_open", "Open incidents: failed tasks waiting for a retry", labels=["process"]
        )
        opened = CounterMetricFamily("sift_incidents_opened", "Incidents ever opened", labels=["process"])
        resolved = CounterMetricFamily("sift_incidents_resolved", "Incidents resolved", labels=["process"])
        totals: dict[str, dict[str, int]] = {}
        for key, status, count in rows:
            totals.setdefault(key, {OPEN: 0, RESOLVED: 0})[status] = int(count)
        for key, by_status in sorted(totals.items()):
            open_now.add_metric([key], by_status[OPEN])
            opened.add_metric([key], by_status[OPEN] + by_status[RESOLVED])
            resolved.add_metric([key], by_status[RESOLVED])
        yield open_now
        yield opened
        yield resolved


_installed = False


def install_collector() -> None:
    """Adds the incident collector to the default registry once per process."""
    global _installed
    if not _installed:
        REGISTRY.register(IncidentCollector())
        _installed = True
