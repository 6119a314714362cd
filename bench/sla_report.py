"""SLA report benchmark: GET /sla/report's engine call on N cases in the window, on SQLite.

Builds a fresh SQLite file with the migrations, then writes ``--cases`` cases opened over one
week (the window) and as many again in the weeks before it (outside the window, so the query
must select, not scan everything), each with eight timeline events, about a fifth of them with
a ``sla.breached`` event, 80 % replied to and 60 % resolved. Half the cases run under the
24x7 default policy, half under ``office`` (Europe/Berlin, Mon-Fri 09-12:30 and 13:30-17,
German holidays), whose working seconds are the expensive part (``--office-only``: all of
them). Seed fixed.

It times ``engine.cases.report.report`` for each grouping, ``--runs`` times each, and in the
same run a baseline: one Core SELECT fetching every window case's row with the columns the
report reads (what any report must at least do). Prints the median wall-clock and CPU time of
each and the ratio of CPU times, then times the whole GET request through the ASGI app.

    .venv/bin/python bench/sla_report.py [--cases 10000] [--runs 5] [--seed 7] [--office-only]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = datetime(2026, 11, 2, tzinfo=UTC)
WEEK = timedelta(days=7)
OFFICE = {
    "time_zone": "Europe/Berlin",
    "hours": {d: ["09:00-12:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE"},
}
EVENT_TYPES = ("case.opened", "task.created", "case.claimed", "task.completed", "case.commented")


def _database(folder: str) -> None:
    os.environ["SIFT_DATABASE_URL"] = f"sqlite:///{folder}/bench.db"
    os.environ["SIFT_DATA_DIR"] = folder
    from engine.config import get_settings
    from engine.db import get_engine, reset_engine_cache
    from engine.migrate import upgrade

    get_settings.cache_clear()
    reset_engine_cache()
    upgrade(get_engine())


def _policies() -> None:
    from engine.db import unit_of_work
    from engine.sla import calendars, policies

    with unit_of_work() as s:
        policies.ensure_default(s)
        calendars.put(s, "office", OFFICE, actor="bench")
        targets = {p: policies.DEFAULT_TARGETS["normal"] for p in policies.PRIORITIES}
        policies.put(
            s, "office", {"calendar": "office", "targets": targets, "warning_at": 0.75}, actor="bench"
        )


def _case(rng: random.Random, n: int, opened: datetime, office_only: bool) -> tuple[dict, list[dict]]:
    first = opened + timedelta(minutes=rng.randint(1, 600)) if rng.random() < 0.8 else None
    resolved = opened + timedelta(hours=rng.randint(1, 120)) if rng.random() < 0.6 else None
    case = {
        "id": f"c{n:08d}", "kind": "reactive", "status": "resolved" if resolved else "open",
        "priority": rng.choice(("urgent", "high", "normal", "low")), "priority_rank": 2,
        "queue": rng.choice(("care", "billing", "social", "escalations")),
        "assignee": rng.choice((None, "alice", "bob", "carol", "dan")), "title": "t",
        "sla_policy": "default" if n % 2 and not office_only else "office", "sla_paused": False,
        "sla_state": rng.choice(("on_track", "at_risk", "breached", "met")),
        "first_response_due_at": opened + timedelta(hours=4), "resolution_due_at": opened + timedelta(days=1),
        "created_at": opened, "updated_at": opened, "first_response_at": first, "resolved_at": resolved,
    }  # fmt: skip
    events = [{"id": f"e{n:08d}{i}", "case_id": case["id"], "at": opened, "type": t, "data": {}} for i, t in
              enumerate(rng.choices(EVENT_TYPES, k=8))]  # fmt: skip
    if rng.random() < 0.2:
        target = rng.choice(("first_response", "resolution"))
        events[-1] |= {"type": "sla.breached", "data": {"target": target}}
    return case, events


def _seed(count: int, seed: int, office_only: bool) -> None:
    from sqlalchemy import insert

    from engine.cases.models import Case
    from engine.db import unit_of_work
    from engine.events.models import ActivityEvent

    rng = random.Random(seed)
    cases, events = [], []
    for n in range(2 * count):  # the first half in the window, the second in the weeks before it
        offset = timedelta(seconds=rng.randint(0, int(WEEK.total_seconds()) - 1))
        opened = START + offset if n < count else START - WEEK * rng.randint(1, 8) + offset
        case, evs = _case(rng, n, opened, office_only)
        cases.append(case)
        events += evs
    with unit_of_work() as s:
        s.execute(insert(Case), cases)
        s.execute(insert(ActivityEvent), events)


def _timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median wall-clock and median CPU seconds of ``runs`` calls (CPU time is what a shared,
    loaded machine distorts least: SQLite runs in this process)."""
    fn()  # warm: the first call compiles statements and fills the calendar's caches
    walls, cpus = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--office-only", action="store_true", help="every case under the office policy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _database(folder)
        _policies()
        _seed(args.cases, args.seed, args.office_only)
        _measure(args.cases, args.runs)
        _measure_http(args.runs)


def _measure(count: int, runs: int) -> None:
    from sqlalchemy import select

    from engine.cases import report as reports
    from engine.cases.models import Case
    from engine.db import unit_of_work

    as_of = START + 3 * WEEK
    columns = (
        Case.id,
        Case.queue,
        Case.sla_policy,
        Case.created_at,
        Case.first_response_at,
        Case.resolved_at,
    )
    where = (Case.created_at >= START, Case.created_at < START + WEEK)
    with unit_of_work() as s:
        rows = len(s.execute(select(*columns).where(*where)).all())
        base, base_cpu = _timed(lambda: s.execute(select(*columns).where(*where)).all(), runs)
        print(
            f"{rows} cases in the window, {count} outside; baseline (fetch their rows): "
            f"{base * 1000:.1f} ms wall, {base_cpu * 1000:.1f} ms CPU"
        )
        for group_by in reports.GROUPINGS:
            win = reports.Window(START, START + WEEK, group_by)
            result = reports.report(s, win, as_of=as_of)
            took, cpu = _timed(lambda win=win: reports.report(s, win, as_of=as_of), runs)
            print(
                f"group_by={group_by:9} {took * 1000:6.1f} ms wall, {cpu * 1000:6.1f} ms CPU, median of {runs}"
                f"  ({cpu / base_cpu:.1f}x baseline CPU)  groups={len(result.groups)} cases={result.total.cases}"
            )


def _measure_http(runs: int) -> None:
    """The whole request (key check, unit of work, report, JSON) through the ASGI app, in-process."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from engine.auth import service as auth
    from engine.db import unit_of_work

    with unit_of_work() as s:
        _, key = auth.create_key(s, "bench-supervisor", "supervisor")
    params = {"from": START.isoformat(), "to": (START + WEEK).isoformat(), "group_by": "queue"}
    with TestClient(create_app(run_worker=False)) as client:

        def get() -> None:
            r = client.get("/api/v1/sla/report", params=params, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text

        took, cpu = _timed(get, runs)
    print(f"GET /api/v1/sla/report?group_by=queue over HTTP (in-process): {took * 1000:.1f} ms wall, "
          f"{cpu * 1000:.1f} ms CPU, median of {runs}")  # fmt: skip


if __name__ == "__main__":
    main()
