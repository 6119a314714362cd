"""Counting signals into minute buckets of event time, a bounded number of series per signal.

The worker calls :func:`count` for each signal it routes (in memory, like the rest of a batch)
and :func:`write` once per batch: the batch's increments are summed per (series, minute) and
written by one upsert (``ON CONFLICT DO UPDATE``, on SQLite and PostgreSQL alike), so a signal
costs the same whatever the history. ``write`` also moves the event-time watermark and says
whether it moved: only then can detection have new minutes to evaluate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.signals.models import Signal
from engine.trends.models import ENTITY, KEYWORD, SOURCE, TOPIC, TrendClock, TrendCount, series_name

CLOCK_ID = 1
MAX_TOPICS, MAX_ENTITIES, MAX_KEYWORDS = 3, 3, 5  # at most 12 series a signal, with its source
COUNTED_ENTITIES = ("BRAND", "PRODUCT")
GENERAL = "general"  # the topic of a mention the taxonomy found none in (as routing names it)
_PENDING = "sift.trends.pending"

# one signal's contribution: the series, its minute, and (negative, sentiment score, influence)
Increment = tuple[tuple[str, ...], int, int, float, float]


def minute_of(at: datetime) -> int:
    return int(at.timestamp() // 60)


def event_time(signal: Signal) -> datetime:
    """The mention's own time; never later than its arrival (a clock ahead of ours would
    otherwise push event time into the future and make every later signal late)."""
    received = signal.received_at or utcnow()
    if signal.posted_at is None:
        return received
    return min(signal.posted_at, received)


def normal(text: str) -> str:
    return " ".join(str(text).casefold().split())[:200]


def series_of(enrichment: dict[str, Any], source: str) -> tuple[str, ...]:
    """The series one signal counts in: its topics (or ``general``), its brand and product
    entities, its keywords, and its source; each kind capped, so the work per signal is bounded."""
    topics = [normal(t) for t in (enrichment.get("topics") or [])[:MAX_TOPICS]] or [GENERAL]
    entities: list[str] = []
    for entity in enrichment.get("entities") or []:
        key = normal(entity.get("text") or "")
        if entity.get("label") in COUNTED_ENTITIES and key and key not in entities:
            entities.append(key)
    keywords: list[str] = []
    for word in enrichment.get("keywords") or []:
        key = normal(word)
        if key and key not in keywords:
            keywords.append(key)
    found = [series_name(TOPIC, t) for t in dict.fromkeys(topics)]
    found += [series_name(ENTITY, e) for e in entities[:MAX_ENTITIES]]
    found += [series_name(KEYWORD, k) for k in keywords[:MAX_KEYWORDS]]
    found.append(series_name(SOURCE, normal(source)))
    return tuple(found)


def pending(session: Session) -> list[Increment]:
    """Increments counted in this transaction and not written yet (the worker trims it when it
    undoes a signal)."""
    return session.info.setdefault(_PENDING, [])


def count(session: Session, signal: Signal, enrichment: dict[str, Any]) -> None:
    sentiment = enrichment.get("sentiment") or {}
    negative = 1 if sentiment.get("label") == "negative" else 0
    pending(session).append(
        (
            series_of(enrichment, signal.source),
            minute_of(event_time(signal)),
            negative,
            float(sentiment.get("score") or 0.0),
            float(enrichment.get("influence") or 0.0),
        )
    )


def discard(session: Session) -> None:
    session.info.pop(_PENDING, None)


def write(session: Session) -> bool:
    """Writes this transaction's increments (one upsert) and moves the watermark; True when the
    watermark moved."""
    increments = session.info.pop(_PENDING, None)
    if not increments:
        return False
    totals: dict[tuple[str, int], list[float]] = {}
    for series, minute, negative, sentiment, reach in increments:
        for name in series:
            total = totals.setdefault((name, minute), [0, 0, 0.0, 0.0])
            total[0] += 1
            total[1] += negative
            total[2] += sentiment
            total[3] += reach
    rows = [
        {
            "series": name,
            "minute": minute,
            "volume": int(v),
            "negative": int(n),
            "sentiment_sum": s,
            "reach_sum": r,
        }
        for (name, minute), (v, n, s, r) in sorted(totals.items())  # one lock order for every worker
    ]
    table = cast(Table, TrendCount.__table__)
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["series", "minute"],
        set_={
            "volume": table.c.volume + stmt.excluded.volume,
            "negative": table.c.negative + stmt.excluded.negative,
            "sentiment_sum": table.c.sentiment_sum + stmt.excluded.sentiment_sum,
            "reach_sum": table.c.reach_sum + stmt.excluded.reach_sum,
        },
    )
    session.execute(stmt, rows)
    return advance_watermark(session, max(minute for _, minute, *_ in increments))


def advance_watermark(session: Session, minute: int) -> bool:
    """The watermark becomes ``minute`` if that is later. A plain conditional UPDATE: when it does
    not move (most batches of a live stream, within one minute) no row is locked."""
    moved = session.execute(
        update(TrendClock)
        .where(TrendClock.id == CLOCK_ID)
        .where((TrendClock.watermark.is_(None)) | (TrendClock.watermark < minute))
        .values(watermark=minute, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0):
        return True
    table = cast(Table, TrendClock.__table__)
    created = session.execute(
        _insert(session, table)
        .values(id=CLOCK_ID, watermark=minute, evaluated_through=None, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return bool(getattr(created, "rowcount", 0))


def _insert(session: Session, table: Table) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {session.get_bind().dialect.name}")
