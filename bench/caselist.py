"""Case lists and Get Next Work on 100,000 cases on PostgreSQL, beside a primary-key lookup.

Seeds ``--cases`` cases (Core bulk inserts) in a fresh PostgreSQL database built by the
migrations: 15% open, 5% waiting, the rest resolved; 70% of the open and waiting ones held by
one of 20 CSRs, the others unheld, in three queues; 12 topics; one open task per open case; then VACUUM ANALYZE, as autovacuum leaves a table after a
bulk load. It then times, through the HTTP API (httpx over the ASGI app, in process), interleaved:

  me      GET /api/v1/cases?assignee=me&status=open&sort=sla_due   (a CSR's list)
  none    GET /api/v1/cases?assignee=none&status=open               (unassigned work)
  topic   GET /api/v1/cases?topic=<t>&status=open                    (a topic's list)
  next    POST /api/v1/tasks:next                                    (claims one task each call)
  pk      GET /api/v1/cases/{id}                                     (the baseline)

and prints p50/p95 of each, their ratio to the primary-key lookup, and the query plans of the
list queries and of tasks:next's candidate query (EXPLAIN ANALYZE).

    .venv/bin/python bench/caselist.py [--cases 100000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timers import use  # noqa: E402  (points this process's engine at a database)

PG_ADMIN_URL = os.environ.get("SIFT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TOPICS = [f"topic{i}" for i in range(12)]
QUEUES = ["care", "billing", "escalations"]
CSRS = [f"csr{i:02}" for i in range(20)]


def fresh_database() -> str:
    import psycopg

    name = f"sift_caselist_{os.getpid()}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    import psycopg

    from engine.db import reset_engine_cache

    reset_engine_cache()
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def seed(n: int, rng: random.Random) -> tuple[dict[str, str], list[str]]:
    """Keys for the CSRs (raw keys by name) and the seeded case ids."""
    from sqlalchemy import insert, text

    from engine import bootstrap
    from engine.auth import service as auth
    from engine.cases.models import Case
    from engine.db import get_engine, new_id, unit_of_work, utcnow
    from engine.migrate import upgrade
    from engine.processes.models import ProcessInstanceRecord
    from engine.tasks.models import Task

    upgrade(get_engine())
    bootstrap.register_operations()
    bootstrap.prepare()
    raw: dict[str, str] = {}
    with unit_of_work() as s:
        for name in CSRS:
            _, raw[name] = auth.create_key(s, name, "csr", queues=list(QUEUES))
        instance = ProcessInstanceRecord(process_key="reactive_case", process_version=1, state={})
        s.add(instance)
        s.flush()
        instance_id = instance.id
    now = utcnow()
    ids: list[str] = []
    started = time.perf_counter()
    with get_engine().begin() as conn:
        for start in range(0, n, 5000):
            cases: list[dict[str, Any]] = []
            tasks: list[dict[str, Any]] = []
            for _ in range(min(5000, n - start)):
                case_id = new_id()
                ids.append(case_id)
                roll = rng.random()
                status = "open" if roll < 0.15 else "waiting" if roll < 0.20 else "resolved"
                held = status != "resolved" and rng.random() < 0.7
                rank = rng.choice([0, 1, 2, 2, 2, 3])
                created = now - timedelta(minutes=rng.randrange(60 * 24 * 90))
                cases.append(
                    {
                        "id": case_id,
                        "kind": "reactive",
                        "status": status,
                        "priority": ("urgent", "high", "normal", "low")[rank],
                        "priority_rank": rank,
                        "urgency": 0,
                        "customer_points": rng.randrange(0, 100),
                        "queue": rng.choice(QUEUES),
                        "assignee": rng.choice(CSRS) if held else None,
                        "topic": rng.choice(TOPICS),
                        "title": "seeded case",
                        "sla_state": "on_track",
                        "sla_paused": False,
                        "sla_paused_seconds": 0.0,
                        "sla_due_at": now + timedelta(minutes=rng.randrange(-600, 6000)),
                        "created_at": created,
                        "updated_at": created,
                        "resolved_at": now if status == "resolved" else None,
                    }
                )
                if status == "open":
                    tasks.append(
                        {
                            "id": new_id(),
                            "case_id": case_id,
                            "instance_id": instance_id,
                            "name": "triage",
                            "title": "Triage",
                            "status": "open",
                            "assignee": cases[-1]["assignee"],
                            "queue": cases[-1]["queue"],
                            "priority": cases[-1]["priority"],
                            "form": {},
                            "data": {},
                            "created_at": created,
                        }
                    )
            conn.execute(insert(Case), cases)
            conn.execute(insert(Task), tasks)
    # what autovacuum does after a bulk load (PostgreSQL 13+ vacuums after inserts too): fresh
    # statistics, and the visibility map set, so index-only scans need not visit the heap
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))
        conn.execute(text("VACUUM ANALYZE tasks"))
    print(f"seeded {n:,} cases in {time.perf_counter() - started:.1f} s")
    return raw, ids


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(p / 100 * len(ordered) + 0.5) - 1)]


def explain(client: Any, headers: dict[str, str], label: str, call: Any) -> None:
    """Runs ``call`` once, catching its SQL, and prints EXPLAIN ANALYZE of the statements."""
    from sqlalchemy import event

    from engine.db import get_engine

    caught: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "FROM cases" in statement or "FROM tasks" in statement:
            caught.append((statement, params))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    with engine.connect() as conn:
        for statement, params in caught:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            if "api_keys" in statement or "count(" in statement:
                continue
            plan = conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, params).scalars().all()
            print(f"--- plan: {label}")
            print("\n".join("    " + line for line in plan[:14]))
            break
        conn.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    url = fresh_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            use(url, Path(tmp))
            raw, ids = seed(args.cases, rng)
            run(raw, ids, args.rounds, rng)
    finally:
        drop_database(url)


def run(raw: dict[str, str], ids: list[str], rounds: int, rng: random.Random) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    me = CSRS[0]
    headers = {name: {"Authorization": f"Bearer {key}"} for name, key in raw.items()}
    calls = {
        "me": lambda: client.get(
            "/api/v1/cases",
            params={"assignee": "me", "status": "open", "sort": "sla_due"},
            headers=headers[me],
        ),
        "none": lambda: client.get(
            "/api/v1/cases", params={"assignee": "none", "status": "open"}, headers=headers[me]
        ),
        "topic": lambda: client.get(
            "/api/v1/cases", params={"topic": rng.choice(TOPICS), "status": "open"}, headers=headers[me]
        ),
        "next": lambda: client.post("/api/v1/tasks:next", headers=headers[rng.choice(CSRS[1:])]),
        "pk": lambda: client.get(f"/api/v1/cases/{rng.choice(ids)}", headers=headers[me]),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    with TestClient(create_app(run_worker=False)) as client:
        for name, call in calls.items():  # warm up, and check each answers as it should
            r = call()
            assert r.status_code in (200, 204) if name == "next" else r.status_code == 200, (name, r.text)
        for _ in range(rounds):
            for name in rng.sample(list(calls), len(calls)):  # interleaved, in a random order
                started = time.perf_counter()
                r = calls[name]()
                times[name].append((time.perf_counter() - started) * 1000)
                assert r.status_code < 300, (name, r.status_code, r.text[:200])
        for name in ("me", "none", "topic", "next"):
            explain(client, headers[me], name, calls[name])
    base = pct(times["pk"], 50)
    print(
        f"\n{len(ids):,} cases on PostgreSQL, {rounds} rounds, interleaved; milliseconds through the HTTP API"
    )
    print(f"{'query':8} {'p50':>8} {'p95':>8} {'p50/pk':>8} {'p95 < 50 ms':>12}")
    for name, values in times.items():
        p50, p95 = pct(values, 50), pct(values, 95)
        print(f"{name:8} {p50:8.2f} {p95:8.2f} {p50 / base:8.2f} {'yes' if p95 < 50 else 'NO':>12}")
    print(f"mean of all: {statistics.fmean(v for vs in times.values() for v in vs):.2f} ms")


if __name__ == "__main__":
    main()
