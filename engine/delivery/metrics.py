"""Deliveries, published: each settled attempt to send a webhook or a reply, by outcome, and
how long the receiver took. This process's counts (Prometheus sums them over processes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from engine.delivery.http import Sent

ATTEMPTS = Counter(
    "sift_delivery_attempts",
    "Settled attempts to send, by kind (webhook, reply) and outcome",
    ["kind", "outcome"],
)
LATENCY = Histogram(
    "sift_delivery_seconds",
    "How long the receiver took to answer one attempt",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def observe(kind: str, sent: Sent) -> None:
    ATTEMPTS.labels(kind, "sent" if sent.ok else "failed").inc()
    LATENCY.labels(kind).observe(max(0.0, sent.elapsed_ms / 1000.0))
