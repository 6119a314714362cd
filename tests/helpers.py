"""Small helpers for tests: headers, a signal body, draining the worker."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
_ids = itertools.count(1)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def signal_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "twitter",
        "external_id": f"t-{next(_ids)}",
        "text": "@acme my order A12345 never arrived, 3 weeks now 😡",
        "author": {"handle": "@jane", "name": "Jane", "followers": 1200, "verified": False},
        "created_at": "2026-11-22T10:00:00Z",
    }
    body.update(overrides)
    return body


def drain() -> int:
    """Runs the worker until no signal is due; returns how many it claimed."""
    from engine.worker.service import run_once

    total = 0
    while claimed := run_once():
        total += claimed
    return total


def count(model: Any) -> int:
    from sqlalchemy import func, select

    from engine.db import unit_of_work

    with unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)
