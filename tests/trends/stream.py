"""A stream of historical mentions with a known spike, as ``POST /signals`` bodies in time order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
DELIVERY = "@acme my order {n} never arrived, where is it"
BILLING = "@acme charged twice for order A{n}, refund please"


def poisson(rng: random.Random, rate: float) -> int:
    k, t = 0, rng.expovariate(rate)
    while t < 1.0:
        k, t = k + 1, t + rng.expovariate(rate)
    return k


def mentions(
    *, minutes: int = 100, spike_at: int = 80, spike_minutes: int = 12, seed: int = 3, run: str = "s"
) -> list[dict[str, Any]]:
    """Delivery complaints at 6 a minute (x4 from ``spike_at`` for ``spike_minutes``) and billing
    complaints at 3 a minute, each from its own author, ``created_at`` spread over each minute."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for minute in range(minutes):
        spiking = spike_at <= minute < spike_at + spike_minutes
        batch = [DELIVERY] * poisson(rng, 24.0 if spiking else 6.0) + [BILLING] * poisson(rng, 3.0)
        rng.shuffle(batch)
        for i, template in enumerate(batch):
            n = len(out)
            at = START + timedelta(minutes=minute, seconds=60 * i / len(batch))
            out.append(
                {
                    "source": "twitter",
                    "external_id": f"{run}-{n}",
                    "text": template.format(n=10000 + n),
                    "author": {"handle": f"@{run}_customer{n}", "followers": 200 + 37 * (n % 50)},
                    "created_at": at.isoformat(),
                }
            )
    return out


def spike_start() -> datetime:
    return START + timedelta(minutes=80)
