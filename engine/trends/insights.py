"""What the counters say: the trend list, a series' volume and sentiment over time, and the day's
top issues with the words customers use for them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine import pagination
from engine.cases import service as cases
from engine.cases import transitions
from engine.cases.models import Case
from engine.errors import InvalidInput, NotFound
from engine.nlp import redact
from engine.signals.models import PROCESSED, Signal
from engine.trends.counting import GENERAL, minute_of, normal, series_of
from engine.trends.models import KINDS, TOPIC, Trend, TrendCount, series_name

NEWEST_FIRST = [(Trend.detected_at, True), (Trend.id, True)]
BUCKETS = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "6h": 360, "1d": 1440}
MAX_POINTS = 2000
DAY_SCAN_LIMIT = 20_000  # signals of one day read for its words and samples, newest first


@dataclass(frozen=True)
class TrendFilter:
    topic: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_severity: int | None = None
    case_id: str | None = None


def list_trends(
    session: Session, flt: TrendFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Trend], str | None]:
    """Trends, newest detection first (event time), one page at a time."""
    if flt.kind is not None and flt.kind not in KINDS:
        raise InvalidInput(
            f"Unknown kind {flt.kind!r}; use topic, entity or keyword.",
            fields=[{"field": "kind", "message": "must be topic, entity or keyword"}],
        )
    stmt = select(Trend)
    if flt.topic is not None:
        stmt = stmt.where(Trend.topic == normal(flt.topic))
    if flt.kind is not None:
        stmt = stmt.where(Trend.kind == flt.kind)
    if flt.since is not None:
        stmt = stmt.where(Trend.detected_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Trend.detected_at < flt.until)
    if flt.min_severity is not None:
        stmt = stmt.where(Trend.severity >= flt.min_severity)
    if flt.case_id is not None:
        stmt = stmt.where(Trend.case_id == flt.case_id)
    return pagination.fetch(session, stmt, NEWEST_FIRST, cursor, limit)


def get_trend(session: Session, trend_id: str) -> Trend:
    trend = session.get(Trend, trend_id)
    if trend is None:
        raise NotFound("trend", trend_id)
    return trend


@dataclass
class Point:
    start: datetime
    volume: int = 0
    negative: int = 0
    sentiment_sum: float = 0.0
    reach_sum: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "volume": self.volume,
            "negative": self.negative,
            "negative_share": round(self.negative / self.volume, 4) if self.volume else None,
            "sentiment": round(self.sentiment_sum / self.volume, 4) if self.volume else None,
            "reach": round(self.reach_sum / self.volume, 4) if self.volume else None,
        }


def series(
    session: Session, kind: str, key: str, bucket: str, since: datetime, until: datetime
) -> list[Point]:
    """Volume and sentiment of one series in buckets of ``bucket`` over ``[since, until)`` (event
    time, UTC buckets from the epoch), empty buckets included."""
    if bucket not in BUCKETS:
        raise InvalidInput(
            f"Unknown bucket {bucket!r}; use one of {', '.join(BUCKETS)}.",
            fields=[{"field": "bucket", "message": "must be one of " + ", ".join(BUCKETS)}],
        )
    if until <= since:
        raise InvalidInput(
            "until must be later than since.", fields=[{"field": "until", "message": "not after since"}]
        )
    width = BUCKETS[bucket]
    first = minute_of(since) // width * width
    last = -(-minute_of(until - timedelta(microseconds=1)) // width) * width
    if (last - first) // width + 1 > MAX_POINTS:
        raise InvalidInput(
            f"That asks for more than {MAX_POINTS} buckets; take a wider bucket or a shorter span.",
            fields=[{"field": "bucket", "message": f"more than {MAX_POINTS} buckets"}],
        )
    start_minute, end_minute = minute_of(since), minute_of(until - timedelta(microseconds=1)) + 1
    points = {m: Point(datetime.fromtimestamp(m * 60, UTC)) for m in range(first, end_minute, width)}
    rows = session.execute(
        select(
            TrendCount.minute,
            TrendCount.volume,
            TrendCount.negative,
            TrendCount.sentiment_sum,
            TrendCount.reach_sum,
        )
        .where(TrendCount.series == series_name(kind, normal(key)))
        .where(TrendCount.minute >= start_minute, TrendCount.minute < end_minute)
    )
    for minute, volume, negative, sentiment, reach in rows:
        point = points[minute // width * width]
        point.volume += volume
        point.negative += negative
        point.sentiment_sum += sentiment
        point.reach_sum += reach
    return list(points.values())


@dataclass
class Issue:
    topic: str
    volume: int
    negative: int
    previous_volume: int
    words: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    trends: list[str] = field(default_factory=list)


def top_issues(session: Session, day: date, limit: int = 5) -> list[Issue]:
    """The day's (UTC, event time) top topics by negative mentions, then volume; for each the
    keywords its mentions used most and a few sample mentions, PII redacted."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    minute0 = minute_of(start)
    totals = _topic_totals(session, minute0, minute0 + 1440)
    before = _topic_totals(session, minute0 - 1440, minute0)
    ranked = sorted(
        ((t, v, n) for t, (v, n) in totals.items() if t != GENERAL),
        key=lambda item: (-item[2], -item[1], item[0]),
    )[:limit]
    issues = {t: Issue(t, v, n, before.get(t, (0, 0))[0]) for t, v, n in ranked}
    if not issues:
        return []
    words: dict[str, Counter[str]] = {t: Counter() for t in issues}
    samples: dict[str, list[Signal]] = {t: [] for t in issues}
    for signal in _day_signals(session, start, start + timedelta(days=1)):
        enrichment = signal.enrichment or {}
        for name in series_of(enrichment, signal.source):
            kind, _, topic = name.partition(":")
            if kind != TOPIC or topic not in issues:
                continue
            words[topic].update(normal(k) for k in enrichment.get("keywords") or [])
            samples[topic].append(signal)
    for topic, issue in issues.items():
        issue.words = [{"word": w, "count": c} for w, c in words[topic].most_common(8)]
        issue.samples = [_sample(s) for s in _pick(samples[topic])]
        issue.trends = list(
            session.scalars(
                select(Trend.id)
                .where(
                    Trend.topic == topic,
                    Trend.detected_at >= start,
                    Trend.detected_at < start + timedelta(days=1),
                )
                .order_by(Trend.detected_at)
            )
        )
    return list(issues.values())


def _topic_totals(session: Session, first: int, end: int) -> dict[str, tuple[int, int]]:
    rows = session.execute(
        select(TrendCount.series, func.sum(TrendCount.volume), func.sum(TrendCount.negative))
        .where(TrendCount.series.startswith(f"{TOPIC}:"), TrendCount.minute >= first, TrendCount.minute < end)
        .group_by(TrendCount.series)
    )
    return {s.partition(":")[2]: (int(v or 0), int(n or 0)) for s, v, n in rows}


def _day_signals(session: Session, start: datetime, end: datetime) -> list[Signal]:
    """The day's counted mentions by their own time (received time for those without one)."""
    stmt = (
        select(Signal)
        .where(Signal.status == PROCESSED, Signal.duplicate_of.is_(None))
        .where(
            or_(
                and_(Signal.posted_at >= start, Signal.posted_at < end),
                and_(Signal.posted_at.is_(None), Signal.received_at >= start, Signal.received_at < end),
            )
        )
        .order_by(Signal.received_at.desc(), Signal.id.desc())
        .limit(DAY_SCAN_LIMIT)
    )
    return list(session.scalars(stmt))


def _pick(found: list[Signal], n: int = 3) -> list[Signal]:
    """The most negative mentions, then the most influential."""

    def weight(s: Signal) -> tuple[float, float, str]:
        e = s.enrichment or {}
        return (
            float((e.get("sentiment") or {}).get("score") or 0.0),
            -float(e.get("influence") or 0.0),
            s.id,
        )

    return sorted(found, key=weight)[:n]


def _sample(signal: Signal) -> dict[str, Any]:
    e = signal.enrichment or {}
    return {
        "signal_id": signal.id,
        "source": signal.source,
        "created_at": signal.posted_at or signal.received_at,
        "text": redact(signal.text[:500]),
        "sentiment": (e.get("sentiment") or {}).get("label"),
        "case_id": signal.case_id,
    }


@dataclass(frozen=True)
class OpenTrend:
    """A topic's open investigation with the spikes it gathered, or a recent entity or keyword
    trend (no investigation of its own): what the supervisor board lists."""

    newest: Trend
    spikes: int
    top_severity: int
    investigation: Case | None
    children: dict[str, int] = field(default_factory=dict)  # the investigation's cases by status


def open_trends(session: Session, *, since: datetime, limit: int = 20) -> list[OpenTrend]:
    """Open investigations by their spikes' highest severity, then newest detection, each with
    its newest spike; then entity and keyword trends recorded since ``since``, newest first."""
    live = Case.status.in_((transitions.OPEN, transitions.WAITING))
    grouped = session.execute(
        select(Trend.case_id, func.count(), func.max(Trend.severity), func.max(Trend.detected_at))
        .join(Case, Trend.case_id == Case.id)
        .where(live)
        .group_by(Trend.case_id)
        .order_by(func.max(Trend.severity).desc(), func.max(Trend.detected_at).desc(), Trend.case_id)
        .limit(limit)
    ).all()
    found = []
    for case_id, spikes, severity, _ in grouped:
        newest = session.scalars(
            select(Trend).where(Trend.case_id == case_id).order_by(Trend.detected_at.desc(), Trend.id.desc())
        ).first()
        assert newest is not None  # the group was counted from its rows
        found.append(
            OpenTrend(
                newest,
                int(spikes),
                int(severity),
                session.get(Case, case_id),
                cases.children_counts(session, str(case_id)),
            )
        )
    loose = session.scalars(
        select(Trend)
        .where(Trend.case_id.is_(None), Trend.recorded_at >= since)
        .order_by(Trend.recorded_at.desc(), Trend.id.desc())
        .limit(max(limit - len(found), 0))
    )
    return found + [OpenTrend(t, 1, t.severity, None) for t in loose]


def busiest(session: Session, kind: str, since: datetime, until: datetime, *, limit: int = 6) -> list[str]:
    """The keys of ``kind`` (topic, entity, keyword, source) with the most mentions in
    ``[since, until)``, most first; topics leave out the catch-all topic."""
    if kind not in KINDS:
        raise InvalidInput(
            f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.",
            fields=[{"field": "kind", "message": "must be one of " + ", ".join(KINDS)}],
        )
    prefix = series_name(kind, "")
    stmt = (
        select(TrendCount.series)
        .where(TrendCount.series.startswith(prefix), TrendCount.minute >= minute_of(since))
        .where(TrendCount.minute < minute_of(until) + 1)
        .group_by(TrendCount.series)
        .order_by(func.sum(TrendCount.volume).desc(), TrendCount.series)
    )
    if kind == TOPIC:
        stmt = stmt.where(TrendCount.series != series_name(TOPIC, GENERAL))
    return [s[len(prefix) :] for s in session.scalars(stmt.limit(limit))]
