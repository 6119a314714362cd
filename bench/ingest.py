"""Ingest benchmark: signals per second from POST to open case, against bare SpiffWorkflow.

Starts a real ``sift serve`` (API + in-process worker) on a fresh SQLite file,
posts N varied complaints (``make_mentions``: templates x products x problems,
each from its own author, seed fixed) through ``POST /api/v1/signals:batch``
in batches of ``--batch`` and waits until every one is processed, then checks
that every posted signal is processed and opened its own case (a case whose
origin signal it is) and exits non-zero naming the ones that did not.
In the same run it measures the bare SpiffWorkflow baseline:
parse the reactive case once, then start it to its first user task and
serialize it (without the spec), in memory, per instance. Prints both rates and
the ratio (target >= 0.4, issue 19), the server's CPU time per signal (API and worker,
from /proc: less moved by the machine's other load than the ratio, which counts waiting
too), the stored bytes per case instance (target < 4 KB) and the server's peak memory. The baseline is measured before and after the
run and averaged, since the machine is shared and noisy; both are printed.

    .venv/bin/python bench/ingest.py [--signals 3000] [--batch 500] [--seed 7] [--port 0]
    .venv/bin/python bench/ingest.py --workers 2 --database postgresql   # bench/scale.py: 1 and 2 workers
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def baseline(n: int) -> float:
    """Bare SpiffWorkflow, with the same GC settings the Sift worker runs with (fair to both)."""
    from engine.config import get_settings
    from engine.runtime.baseline import bare_spiff_rate
    from engine.worker.service import tune_gc

    tune_gc(get_settings().gc_threshold)

    xml = (ROOT / "processes" / "reactive_case.bpmn").read_bytes()
    seed = {"reopened": False, "quiet_period": "P3D"}  # what Sift seeds a reactive case with
    bare_spiff_rate(xml, 200, seed)  # warm up
    return bare_spiff_rate(xml, n, seed)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


WORKER_BATCH = 200  # signals the in-process worker claims at a time (SIFT_WORKER_BATCH_SIZE)
BRANDS = ("@acme", "@AcmeCare", "@acmecare", "Acme")
PRODUCTS = (
    "Acme Phone", "Acme Plus", "acmephone", "Acme Phone case", "Acme Plus subscription", "Acme app",
    "Acme Phone charger", "acme+ plan",
)  # fmt: skip
PROBLEMS = (
    "never arrived", "stopped working after {n} days", "won't turn on", "was charged twice", "arrived broken",
    "keeps crashing since the update", "still hasn't shipped", "is not charging", "won't connect to wifi",
    "got lost in delivery", "is still not fixed", "froze again", "went to the wrong address and no refund",
    "won't boot after the update", "has been delayed {n} times",
)  # fmt: skip
TEMPLATES = (
    "{brand} my {product} {problem} #fail",
    "{brand} order {order}: my {product} {problem}. {n} emails and no answer",
    "hey {brand}, my {product} {problem}. not happy",
    "{n} hours on hold with {brand} because my {product} {problem}",
    "{brand} your {product} {problem}, sort it out",
    "my {product} from {brand} {problem} \U0001f621",
    "{brand} still waiting: my {product} {problem} and support says nothing",
    "{brand} ticket {order} - the {product} {problem}, {n} days now",
)
SOURCES = ("twitter", "instagram", "facebook", "reddit", "trustpilot")


def make_mentions(n: int, seed: int, run: str) -> list[dict]:
    """``n`` complaints as ``POST /signals`` bodies: templates x products x problems, one author each.

    Every text is a complaint (so routing opens a case) and every author is
    new (so no signal correlates into another's case): each signal must open
    a case of its own, which ``check_cases`` verifies.
    """
    rng = random.Random(seed)
    items = []
    for i in range(n):
        count = rng.randint(2, 9)
        text = rng.choice(TEMPLATES).format(
            brand=rng.choice(BRANDS),
            product=rng.choice(PRODUCTS),
            problem=rng.choice(PROBLEMS).format(n=count),
            order=f"A{rng.randint(10000, 99999)}",
            n=count,
        )
        handle = f"@customer{seed}_{i}"
        items.append(
            {
                "source": rng.choice(SOURCES),
                "external_id": f"{run}-{i}",
                "text": text,
                "author": {
                    "handle": handle,
                    "name": f"Customer {i}",
                    "followers": int(rng.lognormvariate(5, 2)),
                },
            }
        )
    return items


def wait_processed(db: Path, n: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        while time.monotonic() < deadline:
            (pending,) = conn.execute("SELECT count(*) FROM signals WHERE status = 'pending'").fetchone()
            (total,) = conn.execute("SELECT count(*) FROM signals").fetchone()
            if total >= n and pending == 0:
                return time.perf_counter()
            time.sleep(0.05)
    finally:
        conn.close()
    raise SystemExit(f"signals still pending after {timeout}s")


def stored_bytes(db: Path) -> float:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (avg_state,) = conn.execute("SELECT avg(length(state)) FROM process_instances").fetchone()
        return float(avg_state or 0)
    finally:
        conn.close()


def check_cases(db: Path, run: str, n: int) -> tuple[int, list[str]]:
    """(cases opened by the posted signals, problems): every posted signal processed and origin of one case."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT s.external_id, s.status, s.error, c.id FROM signals s "
            "LEFT JOIN cases c ON c.origin_signal_id = s.id WHERE s.external_id LIKE ?",
            (f"{run}-%",),
        ).fetchall()
    finally:
        conn.close()
    problems = [f"{len(rows)} of the {n} posted signals are stored"] if len(rows) != n else []
    for external_id, status, error, case_id in rows:
        if status != "processed":
            problems.append(f"{external_id}: {status} {error or ''}".strip())
        elif case_id is None:
            problems.append(f"{external_id}: processed but opened no case")
    return sum(case_id is not None for *_, case_id in rows), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=500, help="signals per POST /signals:batch")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated mentions")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="with --database postgresql: runs for 1..N sift worker processes",
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    args = parser.parse_args()
    run = f"bench{int(time.time())}"
    mentions = make_mentions(args.signals, args.seed, run)
    if args.workers or args.database == "postgresql":
        if args.database != "postgresql":
            raise SystemExit("--workers N needs --database postgresql (several workers share one PostgreSQL)")
        from bench import scale

        scale.main(max(args.workers, 1), mentions, args.batch, WORKER_BATCH)
        return
    batches = [mentions[i : i + args.batch] for i in range(0, len(mentions), args.batch)]
    print(
        f"ingest: {args.signals} signals ({len({m['text'] for m in mentions})} distinct texts, seed {args.seed}) "
        f"in {len(batches)} batches of {args.batch}",
        flush=True,
    )

    bare_before = baseline(2000)
    with tempfile.TemporaryDirectory(prefix="sift-bench-") as tmp:
        key = "bench-admin-key-" + secrets.token_hex(8)
        port = args.port or free_port()
        env = {
            **os.environ,
            "SIFT_DATA_DIR": tmp,
            "SIFT_BOOTSTRAP_ADMIN_KEY": key,
            "SIFT_WORKER_BATCH_SIZE": str(WORKER_BATCH),
            # the benchmark posts far faster than the default ingest limit per key allows
            "SIFT_INGEST_RATE_LIMIT": "100000000/minute",
        }
        env.pop("SIFT_DATABASE_URL", None)
        log_path = Path(tmp) / "server.log"
        server_log = log_path.open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
                for _ in range(300):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                client.post(
                    "/api/v1/signals:batch",
                    json={"signals": [dict(mentions[0], external_id="warm", author={"handle": "@warm_up"})]},
                ).raise_for_status()
                wait_processed(Path(tmp) / "sift.db", 1, 60)
                cpu_before = cpu_seconds(server.pid)
                start = time.perf_counter()
                for batch in batches:
                    r = client.post("/api/v1/signals:batch", json={"signals": batch})
                    r.raise_for_status()
                    refused = [item for item in r.json()["results"] if "error" in item]
                    if refused:
                        raise SystemExit(f"FAILED: the batch refused {len(refused)} signals: {refused[:3]}")
                posted = time.perf_counter()
                done = wait_processed(Path(tmp) / "sift.db", args.signals + 1, 600)
                server_cpu = cpu_seconds(server.pid) - cpu_before
            rss = peak_rss_mb(server.pid)
            avg_state = stored_bytes(Path(tmp) / "sift.db")
            cases, problems = check_cases(Path(tmp) / "sift.db", run, args.signals)
        except BaseException:
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(30)
            server_log.close()
    bare_after = baseline(2000)
    bare = (bare_before + bare_after) / 2  # the machine is shared: bracket the run
    e2e = args.signals / (done - start)
    result = {
        "signals": args.signals,
        "post_batch_size": args.batch,
        "worker_batch_size": WORKER_BATCH,
        "distinct_texts": len({m["text"] for m in mentions}),
        "post_seconds": round(posted - start, 3),
        "end_to_end_seconds": round(done - start, 3),
        "end_to_end_per_s": round(e2e, 1),
        "bare_spiff_per_s": round(bare, 1),
        "bare_spiff_before_after": [round(bare_before, 1), round(bare_after, 1)],
        "ratio": round(e2e / bare, 3),
        # API and worker together, all threads: what the ratio costs in CPU, less moved by the
        # machine's other load than the ratio (which also counts waiting)
        "server_cpu_ms_per_signal": round(1000 * server_cpu / args.signals, 3),
        "bare_spiff_ms_per_instance": round(1000 / bare, 3),
        "ratio_target": 0.4,
        "stored_state_bytes_per_instance": round(avg_state),
        "state_target_bytes": 4096,
        "cases_opened_by_posted_signals": cases,
        "signals_without_their_case": len(problems),
        "server_peak_rss_mb": round(rss, 1),
    }
    print(json.dumps(result, indent=2))
    print(
        f"ingest: {e2e:.0f} signals/s end to end vs bare SpiffWorkflow {bare:.0f}/s "
        f"-> ratio {e2e / bare:.2f} "
        f"(target >= 0.4); server CPU {1000 * server_cpu / args.signals:.2f} ms/signal; state {avg_state:.0f} B/instance (target < 4096); peak RSS {rss:.0f} MB"
    )

    if problems:
        print(f"FAILED: {len(problems)} posted signals did not open their case:", file=sys.stderr)
        print("\n".join(problems[:20]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
