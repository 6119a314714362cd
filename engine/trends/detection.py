"""Detection in event time: the ticks the watermark has passed, evaluated once, in order.

A tick ``t`` (minute ``t - 1`` has closed) is evaluated once a signal counted in minute
``t + trend_lateness_minutes`` or later has been seen, so signals that arrive up to that much out
of order still count in their window. Each run locks the clock row (one detector at a time
across workers), evaluates every tick from ``evaluated_through`` to the target for each series
that has counts in that span or a window still holding counts (an idle series catches up with
zero minutes when it is next seen: the same steps, so the result does not depend on when runs
happen), records the spikes in tick order and moves ``evaluated_through``.

Gaps cost nothing: while no series holds counts in its window, the run jumps to the next counted
minute instead of evaluating empty minutes a day per transaction (one mention dated years back
otherwise made the first run walk every minute since, thousands of back-to-back commits that
locked SQLite writers out for minutes). A series idle for more than ``IDLE_RESTART_MINUTES``
starts afresh when next seen, as a new one would: its baseline has decayed to nothing and its
profile is stale, and catching up would cost a step per idle minute.

Two things drive it: the worker after a batch that moved the watermark (a replay of history in
event-time order is detected as it is posted, with ``detected_at`` in event time), and the timer
service's minute job, which, while the stream is live (the watermark within
``trend_live_horizon_minutes`` of the clock), evaluates up to the clock: a quiet minute after a
burst is still evaluated. A replay of older mentions is never advanced by the clock, so
replaying the same stream gives the same trends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from engine.config import get_settings
from engine.db import unit_of_work, utcnow
from engine.events import service as events
from engine.trends import counting, investigations, thresholds
from engine.trends.detector import Config, Spike, State, step
from engine.trends.models import (
    DETECTED_KINDS,
    SOURCE,
    TOPIC,
    Trend,
    TrendClock,
    TrendCount,
    TrendSeries,
    split_series,
)

log = logging.getLogger("sift.trends")

CONFIG = Config()
MAX_TICKS_PER_RUN = 1440  # a day of event time per transaction; a longer catch-up takes several
IDLE_RESTART_MINUTES = 28 * 1440  # four weeks: past it a series' history is no longer used


def tick_time(tick: int) -> datetime:
    return datetime.fromtimestamp(tick * 60, UTC)


@dataclass(frozen=True)
class Run:
    trends: list[Trend]
    more: bool  # ticks are left for another run


def target_tick(clock: TrendClock, now: datetime | None) -> int | None:
    """The last tick this run may evaluate, or None when nothing has been counted."""
    if clock.watermark is None:
        return None
    settings = get_settings()
    target = clock.watermark - settings.trend_lateness_minutes
    if now is not None:
        now_minute = counting.minute_of(now)
        if clock.watermark >= now_minute - settings.trend_live_horizon_minutes:
            target = max(target, now_minute - settings.trend_lateness_minutes)
    return target


def _clock(session: Session) -> TrendClock | None:
    stmt = select(TrendClock).where(TrendClock.id == counting.CLOCK_ID)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()  # the first count creates the row


def advance(session: Session, *, now: datetime | None = None, cfg: Config = CONFIG) -> Run:
    """Evaluates the ticks the watermark (or, live, the clock) has passed; at most a day of them."""
    clock = _clock(session)
    if clock is None:
        return Run([], False)
    target = target_tick(clock, now)
    if target is None:
        return Run([], False)
    start = clock.evaluated_through
    if start is None:
        first = session.scalar(select(func.min(TrendCount.minute)))
        if first is None:
            return Run([], False)
        start = first
    if target <= start:
        return Run([], False)
    if not _any_active(session, start):
        start = _next_counted(session, start, target)
        if start >= target:
            clock.evaluated_through = target
            clock.updated_at = utcnow()
            return Run([], False)
    end = min(target, start + MAX_TICKS_PER_RUN)
    spikes = _evaluate(session, start, end, cfg)
    found = [_record(session, series, spike, table) for series, spike, table in spikes]
    clock.evaluated_through = end
    clock.updated_at = utcnow()
    return Run(found, end < target)


def _any_active(session: Session, start: int) -> bool:
    """Whether a series still holds counts in its window at ``start``."""
    return (
        session.scalar(select(TrendSeries.series).where(TrendSeries.active_until > start).limit(1))
        is not None
    )


def _detected_counts() -> ColumnElement[bool]:
    return ~TrendCount.series.startswith(f"{SOURCE}:")


def _next_counted(session: Session, start: int, target: int) -> int:
    """Where evaluation resumes when nothing is active: the first counted minute at or after
    ``start`` (the ticks before it would evaluate empty minutes only), or ``target``."""
    minute = session.scalar(
        select(func.min(TrendCount.minute)).where(TrendCount.minute >= start, _detected_counts())
    )
    return target if minute is None else min(max(start, minute), target)


def _evaluate(
    session: Session, start: int, end: int, cfg: Config
) -> list[tuple[str, Spike, dict[str, thresholds.Params]]]:
    rows = session.execute(
        select(
            TrendCount.series, TrendCount.minute, TrendCount.volume, TrendCount.negative, TrendCount.reach_sum
        )
        .where(TrendCount.minute >= start, TrendCount.minute < end)
        .where(_detected_counts())
    )
    counts: dict[str, dict[int, tuple[int, int, float]]] = {}
    for series, minute, volume, negative, reach in rows:
        counts.setdefault(series, {})[minute] = (volume, negative, reach)
    stored = {s.series: s for s in _stored(session, list(counts), start)}
    table = thresholds.load(session)
    found: list[tuple[int, str, Spike]] = []
    for series in sorted(set(counts) | set(stored)):
        kind, key = split_series(series)
        if kind not in DETECTED_KINDS:
            continue
        params = thresholds.for_series(table, kind, key)
        minutes = counts.get(series, {})
        row = stored.get(series)
        state = State.load(row.state) if row is not None else State.new(min(minutes))
        idle = row is not None and minutes and not state.window_has_counts()
        if idle and min(minutes) - state.last_tick > IDLE_RESTART_MINUTES:
            state = State.new(min(minutes))
        for tick in range(state.last_tick + 1, end + 1):
            volume, negative, reach = minutes.get(tick - 1, (0, 0, 0.0))
            spike = step(state, tick, volume, negative, reach, params, cfg)
            if spike is not None:
                found.append((tick, series, spike))
        _save(session, series, row, state, end)
    found.sort(key=lambda f: (f[0], f[1]))
    return [(series, spike, table) for _, series, spike in found]


def _stored(session: Session, names: list[str], start: int) -> list[TrendSeries]:
    result: list[TrendSeries] = list(
        session.scalars(select(TrendSeries).where(TrendSeries.active_until > start))
    )
    seen = {s.series for s in result}
    wanted = [n for n in names if n not in seen]
    for at in range(0, len(wanted), 500):
        chunk = wanted[at : at + 500]
        result += list(session.scalars(select(TrendSeries).where(TrendSeries.series.in_(chunk))))
    return result


def _save(session: Session, series: str, row: TrendSeries | None, state: State, end: int) -> None:
    active_until = end + 1 if state.window_has_counts() else 0
    if row is None:
        session.add(
            TrendSeries(
                series=series,
                last_tick=end,
                active_until=active_until,
                state=state.dump(),
                updated_at=utcnow(),
            )
        )
        return
    row.last_tick, row.active_until, row.state, row.updated_at = end, active_until, state.dump(), utcnow()


def _record(session: Session, series: str, spike: Spike, table: dict[str, thresholds.Params]) -> Trend:
    kind, key = split_series(series)
    params = thresholds.for_series(table, kind, key)
    at = tick_time(spike.tick)
    trend = Trend(
        series=series,
        kind=kind,
        key=key,
        topic=key if kind == TOPIC else None,
        detected_at=at,
        window_start=at - timedelta(minutes=spike.window),
        volume=spike.volume,
        baseline=spike.baseline,
        score=spike.score,
        negative_share=spike.negative_share,
        reach=spike.reach,
        severity=spike.severity,
        seasonal=spike.seasonal,
        paged=spike.severity >= params.page_severity,
        recorded_at=utcnow(),
    )
    session.add(trend)
    session.flush()
    if kind == TOPIC:
        investigations.on_spike(session, trend)
    else:  # entity and keyword trends are insights: listed and paged, no investigation of their own
        events.record(
            session, "trend.detected", actor=investigations.ACTOR, data=investigations.describe(trend)
        )
    if trend.paged:
        events.record(
            session,
            "trend.paged",
            case_id=trend.case_id,
            actor=investigations.ACTOR,
            data={
                **investigations.describe(trend),
                "notify": "supervisor",
                "page_severity": params.page_severity,
            },
        )
    return trend


def run(now: datetime | None = None) -> list[Trend]:
    """Evaluates everything due, one transaction per day of event time; returns the trends found."""
    found: list[Trend] = []
    while True:
        with unit_of_work() as session:
            result = advance(session, now=now)
        found += result.trends
        if not result.more:
            return found


def run_safely(now: datetime | None = None) -> None:
    """:func:`run` for the worker and the minute job: a failure is logged and the next run
    evaluates the same ticks again (nothing was committed)."""
    try:
        run(now)
    except Exception:
        log.exception("trend detection failed; the next run evaluates the same minutes again")


def tick_job() -> None:
    """The timer service's minute job."""
    run_safely(utcnow())
