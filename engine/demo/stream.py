"""A demo stream of brand mentions: varied, plausible, reproducible with a seed.

Used by ``sift demo`` to show a running Sift at work; ``sift serve`` itself
never invents data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

BRAND = "@acme"
PRODUCTS = ["AcmePhone X", "Acme Buds", "Acme Home Hub", "Acme app", "Acme Prime"]
FIRST = ["jane", "omar", "li", "sofia", "mike", "aisha", "tom", "priya", "lucas", "emma", "kenji", "nora"]
LAST = ["_k", "88", "_writes", "dev", "_uk", "official", "123", "_ny", ""]

TEMPLATES: dict[str, list[str]] = {
    "complaint": [
        "{brand} my order {order} never arrived, {n} weeks now 😡",
        "{brand} still waiting for my refund on {order}. {n} emails and no answer #fail",
        "{brand} {n} hours on hold and the line just dropped. unbelievable",
        "my {product} stopped charging after {n} days. {brand} this is not ok",
        "{brand} you charged me twice for {product}?? fix this",
        "{brand} the {product} update bricked my device #fail #acmefail",
        "package marked delivered but nothing here. {brand} tracking {order} is useless",
    ],
    "question": [
        "{brand} does the {product} work with older chargers?",
        "{brand} how do I change the address on order {order}?",
        "hey {brand} when does {product} ship to Canada?",
        "{brand} is there a student discount on {product}?",
    ],
    "praise": [
        "shoutout to {brand} support, sorted my {product} issue in 5 minutes 🙌",
        "loving my new {product}, best purchase this year {brand}",
        "{brand} thanks for the quick refund, really appreciate it ❤️",
    ],
    "cancellation": [
        "{brand} cancel my {product} subscription. done with you.",
        "switching to a competitor after this, {brand}. close my account",
    ],
    "urgent": [
        "{brand} my {product} overheated and burned my hand. this is dangerous",
        "{brand} {n} weeks no refund, talking to my lawyer next #scam",
    ],
    "purchase_intent": [
        "thinking of buying the {product}, {brand} any deals this week?",
        "want to upgrade to {product}, where can I buy it {brand}?",
    ],
    "spam": ["FREE followers!!! click bit.ly/xx{n} {brand} {brand} {brand}"],
    "other": [
        "saw the {brand} ad during the game last night",
        "{brand} {product} vs the old one, anyone compared?",
        "{brand} mi pedido {order} no ha llegado todavía",
    ],
}
WEIGHTS = {
    "complaint": 40,
    "question": 20,
    "praise": 12,
    "cancellation": 6,
    "urgent": 3,
    "purchase_intent": 7,
    "spam": 4,
    "other": 8,
}
SOURCES = [("twitter", 55), ("instagram", 15), ("facebook", 10), ("reddit", 10), ("trustpilot", 10)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights=weights)[0]


def signals(seed: int | None = None, run_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Endless mentions as ``POST /api/v1/signals`` bodies; ids unique per ``run_id``."""
    rng = random.Random(seed)
    run = run_id or datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    authors = [f"@{rng.choice(FIRST)}{rng.choice(LAST)}" for _ in range(60)]
    n = 0
    while True:
        n += 1
        kind = _pick(rng, list(WEIGHTS.items()))
        text = rng.choice(TEMPLATES[kind]).format(
            brand=BRAND,
            product=rng.choice(PRODUCTS),
            order=f"A{rng.randint(10000, 99999)}",
            n=rng.randint(2, 9),
        )
        handle = rng.choice(authors)
        followers = int(rng.lognormvariate(5, 2))
        yield {
            "source": _pick(rng, SOURCES),
            "external_id": f"demo-{run}-{n}",
            "text": text,
            "author": {
                "handle": handle,
                "name": handle.strip("@").replace("_", " ").title(),
                "followers": followers,
                "verified": followers > 200_000,
            },
            "created_at": datetime.now(UTC).isoformat(),
            "metadata": {"demo": True},
        }
