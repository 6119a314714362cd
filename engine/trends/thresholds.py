"""What counts as a spike, per topic: editable rows over the tuned defaults.

``default`` names the thresholds of every topic without a row of its own and of every entity
and keyword series; without a ``default`` row the detector's tuned :class:`Params` apply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InvalidInput
from engine.events import service as events
from engine.trends.detector import Params
from engine.trends.models import TOPIC, TrendThreshold

DEFAULT = "default"
FIELDS = ("score", "min_volume", "min_negative_share", "on_negative", "cooldown_minutes", "page_severity")


@dataclass(frozen=True)
class Thresholds:
    topic: str
    params: Params
    builtin: bool  # no row: the tuned defaults
    updated_at: datetime | None = None
    updated_by: str | None = None


def _params(row: TrendThreshold) -> Params:
    return Params(**{f: getattr(row, f) for f in FIELDS})


def load(session: Session) -> dict[str, Params]:
    """Every stored row's parameters by topic (read once per detection run)."""
    return {row.topic: _params(row) for row in session.scalars(select(TrendThreshold))}


def for_series(table: dict[str, Params], kind: str, key: str) -> Params:
    if kind == TOPIC and key in table:
        return table[key]
    return table.get(DEFAULT, Params())


def list_all(session: Session) -> list[Thresholds]:
    rows = {r.topic: r for r in session.scalars(select(TrendThreshold).order_by(TrendThreshold.topic))}
    found = [_of(rows[DEFAULT]) if DEFAULT in rows else Thresholds(DEFAULT, Params(), builtin=True)]
    return found + [_of(r) for name, r in rows.items() if name != DEFAULT]


def _of(row: TrendThreshold) -> Thresholds:
    return Thresholds(row.topic, _params(row), False, row.updated_at, row.updated_by)


def put(session: Session, topic: str, body: dict[str, Any], *, actor: str) -> Thresholds:
    """Creates or replaces the thresholds of ``topic``; fields left out keep the values the
    topic had (its row, else the default's). 422 names every bad field."""
    topic = " ".join(topic.casefold().split())
    if not topic or len(topic) > 100:
        raise InvalidInput(
            "A topic name is 1 to 100 characters.", fields=[{"field": "topic", "message": "1-100 characters"}]
        )
    base = for_series(load(session), TOPIC, topic)
    merged = {**asdict(base), **{k: v for k, v in body.items() if k in FIELDS}}
    _check(merged)
    row = session.get(TrendThreshold, topic)
    if row is None:
        row = TrendThreshold(topic=topic)
        session.add(row)
    for field in FIELDS:
        setattr(row, field, merged[field])
    row.updated_at, row.updated_by = utcnow(), actor
    session.flush()
    events.record(session, "trend.thresholds_changed", actor=actor, data={"topic": topic, **merged})
    return _of(row)


def _check(values: dict[str, Any]) -> None:
    nulls = [f for f in FIELDS if values[f] is None and f != "min_negative_share"]
    if nulls:
        raise InvalidInput(
            "Only min_negative_share may be null: " + ", ".join(nulls),
            fields=[{"field": f, "message": "must not be null"} for f in nulls],
        )
    problems = []
    if not 1.0 <= float(values["score"]) <= 50.0:
        problems.append({"field": "score", "message": "must be between 1 and 50"})
    if not 1 <= int(values["min_volume"]) <= 1_000_000:
        problems.append({"field": "min_volume", "message": "must be between 1 and 1,000,000"})
    share = values["min_negative_share"]
    if share is not None and not 0.0 <= float(share) <= 1.0:
        problems.append({"field": "min_negative_share", "message": "must be between 0 and 1, or null"})
    if not 0 <= int(values["cooldown_minutes"]) <= 7 * 24 * 60:
        problems.append({"field": "cooldown_minutes", "message": "must be between 0 and 10080 (a week)"})
    if not 1 <= int(values["page_severity"]) <= 11:
        problems.append({"field": "page_severity", "message": "must be between 1 and 11 (11: never page)"})
    if problems:
        raise InvalidInput(
            "The thresholds have invalid values: " + ", ".join(p["field"] for p in problems), fields=problems
        )
