"""Several workers on one PostgreSQL: ``bench/ingest.py --workers N --database postgresql``.

For each worker count from 1 to N, on a fresh PostgreSQL database: ``sift serve --no-worker``
(the API) and that many ``sift worker`` processes are started and waited for, then the same
``--signals`` complaints (bench/ingest.py's generator, one author each: one case each) are posted
in batches of ``--batch`` and the run waits until none is pending. It reports, per worker count:
signals per second (first post to last processed), CPU seconds per 1,000 signals of the workers,
the API and the PostgreSQL backends serving this database (utime + stime from /proc; the
server's background processes, WAL writer and checkpointer, are not counted), lock waits
(samples every 0.1 s of this database's backends waiting on a heavyweight lock, from
pg_stat_activity), batches the workers redid one by one (their log), and the load average.
Every signal must be processed and open its own case; a run that loses or doubles one fails.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
READY_LINE = b"worker, timers and deliveries running"


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _backends(url: str, db: str) -> list[int]:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (db,)
        ).fetchall()
    return [r[0] for r in rows]


def _spawn(env: dict[str, str], args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_line(log: Path, line: bytes, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and line in log.read_bytes():
            return
        time.sleep(0.05)
    raise SystemExit(f"{log.name}: not started in {seconds:g} s")


def one_run(
    workers: int, bodies: list[dict[str, Any]], batch: int, worker_batch: int, tmp: Path
) -> dict[str, Any]:
    from bench.day import fresh_postgres

    db = f"sift_ops_scale_{os.getpid()}_{workers}"
    url = fresh_postgres(db)
    key = "scale-admin-" + secrets.token_hex(12)
    port = 8862
    env = {
        **os.environ,
        "SIFT_DATABASE_URL": url,
        "SIFT_DATA_DIR": str(tmp),
        "SIFT_BOOTSTRAP_ADMIN_KEY": key,
        "SIFT_INGEST_RATE_LIMIT": "100000000/minute",
        "SIFT_WORKER_BATCH_SIZE": str(worker_batch),
    }
    subprocess.run(
        [sys.executable, "-m", "api.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    logs = tmp / f"w{workers}"
    logs.mkdir()
    api = _spawn(env, ["serve", "--no-worker", "--port", str(port)], logs / "api.log")
    procs = [_spawn(env, ["worker"], logs / f"worker{i}.log") for i in range(workers)]
    try:
        _wait_line(logs / "api.log", b"Sift on http")
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        made = admin.post("/api/v1/keys", json={"name": "scale-intake", "role": "integration"})
        made.raise_for_status()
        for i in range(workers):
            _wait_line(logs / f"worker{i}.log", READY_LINE)
        poster = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {made.json()['key']}"}, timeout=120
        )
        pids = [p.pid for p in procs]
        before_backends = {pid: cpu_seconds(pid) for pid in _backends(url, db)}
        before = {"workers": sum(cpu_seconds(p) for p in pids), "api": cpu_seconds(api.pid)}
        load_before = load()
        lock_samples, samples = [0], [0]
        stop = threading.Event()

        def sample() -> None:
            with psycopg.connect(_libpq(url), autocommit=True) as conn:
                while not stop.is_set():
                    (waiting,) = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (db,),
                    ).fetchone()
                    lock_samples[0] += int(waiting)
                    samples[0] += 1
                    time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        for at in range(0, len(bodies), batch):
            poster.post("/api/v1/signals:batch", json={"signals": bodies[at : at + batch]}).raise_for_status()
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            while True:
                (pending, total) = conn.execute(
                    "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM signals"
                ).fetchone()
                if total >= len(bodies) and pending == 0:
                    break
                time.sleep(0.05)
            wall = time.perf_counter() - started
            stop.set()
            sampler.join()
            after_backends = {pid: cpu_seconds(pid) for pid in _backends(url, db)}
            worker_cpu = sum(cpu_seconds(p) for p in pids) - before["workers"]
            api_cpu = cpu_seconds(api.pid) - before["api"]
            pg_cpu = sum(after_backends[p] - before_backends.get(p, 0.0) for p in after_backends)
            (processed, cases, doubled) = conn.execute(
                "SELECT (SELECT count(*) FROM signals WHERE status = 'processed'), "
                "(SELECT count(*) FROM cases WHERE origin_signal_id IS NOT NULL), "
                "(SELECT count(*) FROM (SELECT case_id FROM activity_events WHERE type = 'case.opened' "
                "GROUP BY case_id HAVING count(*) > 1) x)"
            ).fetchone()
        redone = sum(
            (logs / f"worker{i}.log").read_text(errors="replace").count("redone one by one")
            for i in range(workers)
        )
        per_k = 1000 / len(bodies)
        return {
            "workers": workers,
            "rate": len(bodies) / wall,
            "wall": wall,
            "cpu_workers": worker_cpu * per_k,
            "cpu_api": api_cpu * per_k,
            "cpu_pg": pg_cpu * per_k,
            "lock_wait_samples": lock_samples[0],
            "samples": samples[0],
            "redone": redone,
            "processed": processed,
            "cases": cases,
            "doubled": doubled,
            "load": f"{load_before} -> {load()}",
        }
    finally:
        for p in [*procs, api]:
            p.terminate()
        for p in [*procs, api]:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        with psycopg.connect(_libpq(url.rsplit("/", 1)[0] + "/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main(workers: int, bodies: list[dict[str, Any]], batch: int, worker_batch: int) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="sift-scale-") as tmp:
        for n in range(1, workers + 1):
            results.append(one_run(n, bodies, batch, worker_batch, Path(tmp)))
    print(
        f"bench/ingest.py --workers {workers} --database postgresql: {len(bodies)} signals, posted in batches of "
        f"{batch}, worker batch {worker_batch}; {os.cpu_count()} cores"
    )
    print(
        "workers  signals/s  wall s  CPU s per 1,000 signals: workers   API  PostgreSQL  total"
        "   lock-wait samples  redone batches  load (1/5/15 min, before -> after)"
    )
    failed = []
    for r in results:
        total = r["cpu_workers"] + r["cpu_api"] + r["cpu_pg"]
        print(
            f"{r['workers']:>7}  {r['rate']:>9.1f}  {r['wall']:>6.1f}  {'':>24}{r['cpu_workers']:>7.2f} "
            f"{r['cpu_api']:>5.2f}  {r['cpu_pg']:>10.2f}  {total:>5.2f}   {r['lock_wait_samples']:>4} of {r['samples']:<5}"
            f"        {r['redone']:>6}      {r['load']}"
        )
        if r["processed"] != len(bodies) or r["cases"] != len(bodies) or r["doubled"]:
            failed.append(
                f"{r['workers']} workers: {r['processed']} processed, {r['cases']} cases, {r['doubled']} doubled"
            )
    if len(results) > 1:
        one, last = results[0], results[-1]
        cpu = lambda r: r["cpu_workers"] + r["cpu_api"] + r["cpu_pg"]  # noqa: E731
        print(
            f"{last['workers']} workers / 1: throughput x{last['rate'] / one['rate']:.2f}, "
            f"CPU per signal x{cpu(last) / cpu(one):.2f}"
        )
    if failed:
        print("FAILED: " + "; ".join(failed))
        sys.exit(1)
    print("RESULT: PASS (every signal processed, one case each, none doubled)")
