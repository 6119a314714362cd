"""Replaying a stream twice gives identical trends (whatever the batch sizes); two detections of
one topic at the same moment (two workers on PostgreSQL) open one investigation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.cases.models import Case
from engine.db import unit_of_work, utcnow
from engine.signals import service as signals
from engine.trends import detection, investigations
from engine.trends.models import Trend
from tests.conftest import BACKEND, _empty_tables
from tests.trends import stream


def _post(items: list[dict], chunk: int) -> None:
    for at in range(0, len(items), chunk):
        with unit_of_work() as s:
            signals.accept(
                s,
                [
                    signals.NewSignal(
                        source=i["source"],
                        external_id=i["external_id"],
                        text=i["text"],
                        author=i["author"],
                        posted_at=datetime.fromisoformat(i["created_at"]),
                    )
                    for i in items[at : at + chunk]
                ],
            )


def _replay(items: list[dict], post_chunk: int, worker_batch: int) -> list[tuple]:
    from engine.worker.service import run_once

    _post(items, post_chunk)
    while run_once(worker_batch):
        pass
    with unit_of_work() as s:
        trends = s.scalars(select(Trend).order_by(Trend.detected_at, Trend.series)).all()
        found = [
            (t.series, t.detected_at, t.volume, t.baseline, t.score, t.negative_share, t.severity, t.attached)
            for t in trends
        ]
        investigations_opened = s.scalars(select(Case.topic).where(Case.kind == "investigation")).all()
    return [*found, ("investigations", tuple(investigations_opened))]


def _fresh() -> None:
    from engine import bootstrap
    from engine.processes import instances
    from engine.processes import service as definitions

    _empty_tables()
    definitions.clear_cache()
    instances.clear_cache()
    bootstrap.prepare()


def test_replaying_the_same_stream_twice_gives_identical_trends(db):
    items = stream.mentions(seed=11)
    first = _replay(items, post_chunk=500, worker_batch=50)
    _fresh()
    second = _replay(items, post_chunk=137, worker_batch=173)
    assert first == second
    topics = [f for f in first if f[0] == "topic:delivery"]
    assert len(topics) == 1 and first[-1] == ("investigations", ("delivery",))
    onset = stream.spike_start()
    assert onset < topics[0][1] <= onset + timedelta(minutes=5)


def _trend(topic: str, minute: int) -> Trend:
    at = datetime(2026, 11, 20, 9, minute, tzinfo=utcnow().tzinfo)
    return Trend(
        series=f"topic:{topic}",
        kind="topic",
        key=topic,
        topic=topic,
        detected_at=at,
        window_start=at - timedelta(minutes=5),
        volume=60,
        baseline=20.0,
        score=7.0,
        negative_share=0.9,
        reach=0.4,
        severity=7,
    )


def test_two_spikes_on_one_topic_at_the_same_moment_open_one_investigation(db):
    """Each thread is a worker's detection transaction; they pass the barrier together, both find
    no open investigation, both insert one: the unique index lets one through, the other joins it.
    (SQLite has one writer: its transactions take turns, there is no race, and no barrier.)"""
    barrier = threading.Barrier(2) if BACKEND == "postgresql" else None
    results: dict[int, tuple[str, bool]] = {}
    errors: list[BaseException] = []

    def detect(n: int) -> None:
        try:
            with unit_of_work() as s:
                trend = _trend("delivery", n)
                s.add(trend)
                s.flush()
                if barrier is not None:
                    barrier.wait(timeout=30)
                case, opened = investigations.on_spike(s, trend)
                results[n] = (case.id, opened)
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=detect, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len({case_id for case_id, _ in results.values()}) == 1
    assert sorted(opened for _, opened in results.values()) == [False, True]
    with unit_of_work() as s:
        assert len(s.scalars(select(Case).where(Case.kind == "investigation")).all()) == 1
        trends = s.scalars(select(Trend)).all()
        assert {t.case_id for t in trends} == {results[1][0]} and sorted(t.attached for t in trends) == [
            False,
            True,
        ]


def test_two_workers_detecting_the_same_minutes_record_each_trend_once(db):
    """Counts are in; two workers' detection runs start together: the clock row lets one
    evaluate the minutes, the other finds nothing left."""
    items = stream.mentions(seed=5)
    _post(items, 500)
    from engine.worker.service import _batch, claim

    while True:  # the worker's batches without its detection step
        with unit_of_work() as s:
            claimed, _, _ = _batch(s, claim(s, 200))
        if not claimed:
            break
    barrier = threading.Barrier(2)
    found: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            found.append(len(detection.run()))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with unit_of_work() as s:
        trends = s.scalars(select(Trend)).all()
        assert sum(found) == len(trends) and sorted(found)[0] == 0
        assert [t.topic for t in trends if t.kind == "topic"] == ["delivery"]
        assert len(s.scalars(select(Case).where(Case.kind == "investigation")).all()) == 1


def _counting_runs(monkeypatch) -> list[tuple[int, int]]:
    """Records (tick evaluated from, to) of every detection transaction."""
    spans: list[tuple[int, int]] = []
    evaluate = detection._evaluate

    def recorded(session, start, end, cfg):  # type: ignore[no-untyped-def]
        spans.append((start, end))
        return evaluate(session, start, end, cfg)

    monkeypatch.setattr(detection, "_evaluate", recorded)
    return spans


def test_a_mention_dated_a_year_back_neither_walks_the_year_nor_changes_the_trends(db, monkeypatch):
    """Counted first, it would make the first run evaluate every empty minute since, a day per
    transaction (seen: one fuzzed signal dated 2000 locked SQLite writers out for three minutes);
    its series, seen again a year on, starts afresh instead of stepping through the idle year."""
    items = stream.mentions(seed=11)
    spans = _counting_runs(monkeypatch)
    plain = _replay(items, post_chunk=500, worker_batch=50)
    plain_runs = len(spans)
    _fresh()
    spans.clear()
    old = dict(
        items[0],
        external_id="a-year-back",
        text="@acme my order 99999 never arrived, where is it",
        author={"handle": "@someone_else", "followers": 10},
        created_at=(stream.START - timedelta(days=365)).isoformat(),
    )
    _post([old], 1)
    with_old = _replay(items, post_chunk=500, worker_batch=50)
    assert with_old == plain
    assert len(spans) <= plain_runs + 2, f"{len(spans)} detection transactions against {plain_runs}"
    assert sum(end - start for start, end in spans) < 3 * 1440
