"""Chaos: a day of signals while worker processes are killed with SIGKILL, and the API now and then.

Starts ``sift serve --no-worker`` (the API) and ``--workers`` ``sift worker`` processes (signal
worker, timer service, delivery service) on a fresh SQLite file or, with ``--database
postgresql``, a fresh PostgreSQL database; a local receiver on 127.0.0.1 takes the webhooks (a
subscription to ``*``), checks each signature and de-duplicates by the ``Sift-Delivery`` id. A
short SLA policy makes every case's clocks fire during the run (warnings, breaches and passed
deadlines: timers). The signals are bench/day.py's plan of a day (openings, replies before their
parent, duplicates, exact re-posts, spam, noise), posted in small batches over ``--spread``
seconds; a post the API did not answer (killed) is posted again (the inbox is idempotent).

Meanwhile ``--kills`` times, at a random moment (0 to ``--max-gap`` seconds after the victim
finished starting), a random worker gets SIGKILL and is started again; every ``--api-every``
worker kills the API gets SIGKILL too and is restarted. Then the run waits for everything to
settle and counts, from the database and the receiver:

- signals lost: posted external ids without a row, or with a row not handled (still pending,
  buffered or failed);
- cases doubled: signals that opened a second case, and customers with two live cases on one topic;
- timers fired twice: SLA events (warning, breach, passed deadline) recorded twice for one clock;
- webhooks: deliveries not delivered, delivered ids the receiver never got, repeats it dropped.

It prints those counts and exits 1 unless the first three and the undelivered ones are 0.

    .venv/bin/python bench/chaos.py [--mentions 1500] [--kills 50] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.day import fresh_postgres, plan  # noqa: E402  (the day's signals)

READY_LINE = b"worker, timers and deliveries running"
POLICY = {
    "calendar": "24x7",
    "targets": {
        priority: {
            "first_response": {"target": "PT12S", "passed_deadline": {"every": "PT6S", "times": 2}},
            "next_response": "PT20S",
            "resolution": "PT30S",
        }
        for priority in ("urgent", "high", "normal", "low")
    },
    "warning_at": 0.5,
}


@dataclass
class Receiver:
    """Webhooks by delivery id: the first of each is kept, a repeat is answered 200 and dropped."""

    secret: str
    seen: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_at: float = field(default_factory=time.monotonic)

    def take(self, headers: dict[str, str], body: bytes) -> int:
        parts = dict(p.split("=", 1) for p in headers.get("sift-signature", "").split(",") if "=" in p)
        expected = hmac.new(
            self.secret.encode(), parts.get("t", "").encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        with self.lock:
            self.last_at = time.monotonic()
            if not hmac.compare_digest(expected, parts.get("v1", "")):
                self.refused["bad signature"] += 1
                return 401
            ident = headers.get("sift-delivery", "")
            if not ident:
                self.refused["no delivery id"] += 1
                return 400
            self.seen[ident] += 1
        return 200


def serve(receiver: Receiver, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if len(body) < length:  # the sender was killed while sending: it will send again
                with receiver.lock:
                    receiver.refused["body cut short"] += 1
                return
            status = receiver.take({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Fleet:
    """The API and worker processes, each started again after it is killed."""

    def __init__(self, env: dict[str, str], port: int, workers: int, logs: Path) -> None:
        self.env, self.port, self.logs = env, port, logs
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.started = 0

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_api(self) -> None:
        self.api = self._spawn(["serve", "--no-worker", "--port", str(self.port)], "api")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("the API did not start; see api.log")

    def start_worker(self, i: int) -> None:
        log = self.logs / f"worker{i}.log"
        size = log.stat().st_size if log.exists() else 0
        self.workers[i] = self._spawn(["worker"], f"worker{i}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # up: its services run (a kill then hits real work)
            with log.open("rb") as f:
                f.seek(size)
                if READY_LINE in f.read():
                    return
            time.sleep(0.05)
        raise SystemExit(f"worker {i} did not start; see {log}")

    def kill(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for proc in [self.api, *self.workers]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def post_all(
    base: str, key: str, bodies: list[dict[str, Any]], spread: float, stop: threading.Event
) -> list[str]:
    """Posts in batches of 10 over ``spread`` seconds; a batch without an answer is posted again."""
    problems: list[str] = []
    batches = [bodies[i : i + 10] for i in range(0, len(bodies), 10)]
    gap = spread / max(len(batches), 1)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        for batch in batches:
            while not stop.is_set():
                try:
                    r = client.post("/api/v1/signals:batch", json={"signals": batch})
                except httpx.HTTPError:
                    time.sleep(0.2)  # the API is down (killed): post the same batch again
                    continue
                if r.status_code >= 500 or r.status_code == 429:
                    time.sleep(0.2)
                    continue
                if r.status_code >= 400:
                    problems.append(f"{r.status_code} {r.text[:200]}")
                else:
                    problems += [str(x) for x in r.json()["results"] if "error" in x]
                break
            time.sleep(gap)
    return problems


def settled(db: Any, receiver: Receiver) -> str | None:
    with db.connect() as conn:
        busy = conn.execute(
            text("SELECT count(*) FROM signals WHERE status IN ('pending','buffered')")
        ).scalar()
        if busy:
            return f"{busy} signals pending or buffered"
        due = conn.execute(
            text("SELECT count(*) FROM timers WHERE status = 'pending' AND due_at <= :now"),
            {"now": _now()},
        ).scalar()
        if due:
            return f"{due} timers due"
        outbox = conn.execute(text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")).scalar()
        sending = conn.execute(
            text("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
        ).scalar()
        if outbox or sending:
            return f"{outbox} outbox events to fan out, {sending} webhook deliveries pending"
    if time.monotonic() - receiver.last_at < 2:
        return "webhooks still arriving"
    return None


def _now() -> Any:
    from engine.db import utcnow

    return utcnow()


def count(db: Any, posted: set[str], receiver: Receiver) -> dict[str, Any]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT external_id, status FROM signals")).all()
        status = {ext: st for ext, st in rows}
        missing = sorted(posted - status.keys())
        unhandled = sorted(e for e in posted & status.keys() if status[e] not in ("processed", "ignored"))
        opened_twice = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT case_id FROM activity_events WHERE type = 'case.opened' "
                "GROUP BY case_id HAVING count(*) > 1) x"
            )
        ).scalar()
        live_twice = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT customer_id, topic FROM cases WHERE status IN ('open','waiting') "
                "AND kind <> 'investigation' AND customer_id IS NOT NULL "
                "GROUP BY customer_id, topic HAVING count(*) > 1) x"
            )
        ).scalar()
        sla_events = conn.execute(
            text(
                "SELECT case_id, type, data FROM activity_events "
                "WHERE type IN ('sla.warning', 'sla.breached', 'sla.passed_deadline')"
            )
        ).all()
        timers = dict(conn.execute(text("SELECT status, count(*) FROM timers GROUP BY status")).all())
        deliveries = conn.execute(text("SELECT id, status FROM webhook_deliveries")).all()
        cases = conn.execute(text("SELECT count(*) FROM cases")).scalar()
    clocks = Counter()
    for case_id, kind, data in sla_events:
        doc = data if isinstance(data, dict) else json.loads(data)
        clocks[(case_id, kind, doc.get("target"), doc.get("count"))] += 1
    delivered = {d for d, st in deliveries if st == "delivered"}
    return {
        "posted": len(posted),
        "signals_missing": len(missing),
        "signals_unhandled": len(unhandled),
        "unhandled_examples": [(e, status[e]) for e in unhandled[:5]],
        "cases": cases,
        "cases_doubled": int(opened_twice or 0),
        "customers_with_two_live_cases_on_a_topic": int(live_twice or 0),
        "sla_firings": len(sla_events),
        "timers_fired_twice": sum(1 for n in clocks.values() if n > 1),
        # a timer whose firing raised on every attempt never fired: work lost, though listed for a person
        "timers_failed": int(timers.get("failed", 0)),
        "timers": timers,
        "webhook_deliveries": len(deliveries),
        "webhooks_not_delivered": len(deliveries) - len(delivered),
        "webhooks_delivered_never_received": len(delivered - receiver.seen.keys()),
        "webhook_repeats_dropped_by_receiver": sum(n - 1 for n in receiver.seen.values()),
        "receiver_refused": dict(receiver.refused),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1500)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument(
        "--spread", type=float, default=240.0, help="seconds over which the signals are posted"
    )
    parser.add_argument("--kills", type=int, default=50, help="worker SIGKILLs")
    parser.add_argument(
        "--api-every", type=int, default=10, help="a SIGKILL of the API after every N worker kills"
    )
    parser.add_argument("--max-gap", type=float, default=3.0, help="longest wait before a kill, seconds")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (SQLite 1, PostgreSQL 2)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--intake", choices=("database", "nats"), default="database")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to settle after the last kill")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--port", type=int, default=8860)
    parser.add_argument("--receiver-port", type=int, default=8861)
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    args = parser.parse_args()
    workers = args.workers or (1 if args.database == "sqlite" else 2)
    rng = random.Random(args.seed)
    run = f"chaos{int(time.time())}"
    _, timed = plan(args.mentions, args.customers, args.seed, run)
    bodies = [p.body for _, p in timed]
    receiver = Receiver(secret=secrets.token_hex(16))
    rx = serve(receiver, args.receiver_port)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sift-chaos-") as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        key = "chaos-admin-" + secrets.token_hex(12)
        env = {
            **os.environ,
            "SIFT_DATA_DIR": tmp,
            "SIFT_BOOTSTRAP_ADMIN_KEY": key,
            "SIFT_INGEST_RATE_LIMIT": "100000000/minute",
            "SIFT_DELIVERY_POLL_SECONDS": "0.2",
            "SIFT_INTAKE": args.intake,
            "SIFT_NATS_STREAM": run.upper(),
            "SIFT_NATS_SUBJECT": f"sift.{run}",
            "SIFT_NATS_CONSUMER": f"workers-{run}",
            "SIFT_NATS_ACK_WAIT_SECONDS": "5",
        }
        if args.database == "postgresql":
            env["SIFT_DATABASE_URL"] = fresh_postgres(f"sift_ops_chaos_{os.getpid()}")
        else:
            env["SIFT_DATABASE_URL"] = f"sqlite:///{tmp}/sift.db"
        subprocess.run(
            [sys.executable, "-m", "api.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        db = create_engine(env["SIFT_DATABASE_URL"])
        fleet = Fleet(env, args.port, workers, logs)
        stop = threading.Event()
        try:
            fleet.start_api()
            base = f"http://127.0.0.1:{args.port}"
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as admin:
                admin.put("/api/v1/sla/policies/default", json=POLICY).raise_for_status()
                hook = admin.post(
                    "/api/v1/webhooks",
                    json={
                        "url": f"http://127.0.0.1:{args.receiver_port}/hooks",
                        "events": ["*"],
                        "secret": receiver.secret,
                    },
                )
                hook.raise_for_status()
                intake = admin.post("/api/v1/keys", json={"name": "chaos-intake", "role": "integration"})
                intake.raise_for_status()
            for i in range(workers):
                fleet.start_worker(i)
            problems: list[str] = []
            poster = threading.Thread(
                target=lambda: problems.extend(
                    post_all(base, intake.json()["key"], bodies, args.spread, stop)
                ),
                daemon=True,
            )
            poster.start()
            worker_kills = api_kills = 0
            while worker_kills < args.kills:
                time.sleep(rng.uniform(0, args.max_gap))
                i = rng.randrange(workers)
                fleet.kill(fleet.workers[i])
                worker_kills += 1
                if args.api_every and worker_kills % args.api_every == 0:
                    fleet.kill(fleet.api)
                    api_kills += 1
                    fleet.start_api()
                fleet.start_worker(i)
                print(f"kill {worker_kills}: worker {i} (API kills {api_kills})", file=sys.stderr, flush=True)
            kills_done = time.monotonic()
            poster.join()
            waiting: str | None = "start"
            while waiting is not None and time.monotonic() - kills_done < args.timeout:
                time.sleep(1)
                waiting = settled(db, receiver)
                if waiting and int(time.monotonic() - kills_done) % 15 == 0:
                    print(f"settling: {waiting}", file=sys.stderr, flush=True)
            seen = {b["external_id"] for b in bodies}
            counts = count(db, seen, receiver)
        finally:
            stop.set()
            fleet.stop()
            rx.shutdown()
        if args.intake == "nats":
            _drop_stream(env)
    wall = time.monotonic() - started
    print(
        f"bench/chaos.py on {args.database} ({args.intake} intake), {workers} worker process(es): "
        f"{len(bodies)} posts ({args.mentions} planned mentions, seed {args.seed}) over {args.spread:g} s; "
        f"worker SIGKILLs {worker_kills}, API SIGKILLs {api_kills}; {wall:.0f} s; load {_load()}"
    )
    if waiting is not None:
        print(f"NOT SETTLED after {args.timeout:g} s: {waiting}")
    for name, value in counts.items():
        print(f"  {name:<42} {value}")
    if problems:
        print(f"  post problems: {problems[:3]}")
    bad = (
        counts["signals_missing"]
        + counts["signals_unhandled"]
        + counts["cases_doubled"]
        + counts["customers_with_two_live_cases_on_a_topic"]
        + counts["timers_fired_twice"]
        + counts["timers_failed"]
        + counts["webhooks_not_delivered"]
        + counts["webhooks_delivered_never_received"]
    )
    print("RESULT: " + ("PASS" if bad == 0 and waiting is None and not problems else "FAIL"))
    sys.exit(0 if bad == 0 and waiting is None and not problems else 1)


def _drop_stream(env: dict[str, str]) -> None:
    os.environ.update({k: v for k, v in env.items() if k.startswith("SIFT_NATS")})
    from engine.config import get_settings
    from engine.signals.intake import JetStreamIntake

    get_settings.cache_clear()
    conn = JetStreamIntake()
    try:
        conn.delete_stream()
    finally:
        conn.close()


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
