"""Trend tables: minute counters, per-series detector state, the event-time clock, detected
trends and the per-topic thresholds.

Times the detector works in are whole minutes since the Unix epoch (UTC): a bucket ``minute``
holds the signals whose event time (``created_at``, else when received) falls in
``[minute, minute + 1)``; a *tick* ``t`` is the moment minute ``t - 1`` closes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, new_id, utcnow

TOPIC, ENTITY, KEYWORD, SOURCE = "topic", "entity", "keyword", "source"
KINDS = (TOPIC, ENTITY, KEYWORD, SOURCE)
DETECTED_KINDS = (TOPIC, ENTITY, KEYWORD)  # a source's volume is an insight, not an issue


def series_name(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def split_series(series: str) -> tuple[str, str]:
    kind, _, key = series.partition(":")
    return kind, key


class TrendCount(Base):
    """How many counted signals of one series fell in one minute of event time."""

    __tablename__ = "trend_counts"

    series: Mapped[str] = mapped_column(String(220), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    volume: Mapped[int] = mapped_column(default=0)
    negative: Mapped[int] = mapped_column(default=0)
    sentiment_sum: Mapped[float] = mapped_column(Float, default=0.0)
    reach_sum: Mapped[float] = mapped_column(Float, default=0.0)


Index("ix_trend_counts_minute", TrendCount.minute)


class TrendSeries(Base):
    """The detector's state of one series (``engine/trends/detector.py``: baseline, deviation,
    the recent window, the hour-of-week profile, the cooldown) as of tick ``last_tick``.
    ``active_until``: the tick until which its window may still hold counts."""

    __tablename__ = "trend_series"

    series: Mapped[str] = mapped_column(String(220), primary_key=True)
    last_tick: Mapped[int] = mapped_column(Integer)
    active_until: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrendClock(Base):
    """The one row (id 1) of event time: the newest minute any counted signal fell in
    (``watermark``) and the tick through which every series has been evaluated."""

    __tablename__ = "trend_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    watermark: Mapped[int | None] = mapped_column(Integer, default=None)
    evaluated_through: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Trend(Base):
    """A spike of one series: detected at tick ``detected_at`` (event time) over the window
    ``[window_start, detected_at)``; ``case_id`` is the investigation it opened or joined."""

    __tablename__ = "trends"
    __table_args__ = (
        UniqueConstraint("series", "detected_at"),
        Index("ix_trends_detected_at_id", "detected_at", "id"),
        Index("ix_trends_topic_detected_at", "topic", "detected_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    series: Mapped[str] = mapped_column(String(220))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(100), default=None)
    detected_at: Mapped[datetime] = mapped_column()
    window_start: Mapped[datetime] = mapped_column()
    volume: Mapped[int] = mapped_column()
    baseline: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    negative_share: Mapped[float] = mapped_column(Float)
    reach: Mapped[float] = mapped_column(Float)
    severity: Mapped[int] = mapped_column()
    seasonal: Mapped[bool] = mapped_column(default=False)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    attached: Mapped[bool] = mapped_column(default=False)  # evidence on an investigation already open
    paged: Mapped[bool] = mapped_column(default=False)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrendThreshold(Base):
    """What counts as a spike on one topic (``default``: every topic without its own row, and
    every entity and keyword series)."""

    __tablename__ = "trend_thresholds"

    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    min_volume: Mapped[int] = mapped_column()
    min_negative_share: Mapped[float | None] = mapped_column(Float, default=None)
    on_negative: Mapped[bool] = mapped_column(default=False)
    cooldown_minutes: Mapped[int] = mapped_column()
    page_severity: Mapped[int] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80), default=None)
