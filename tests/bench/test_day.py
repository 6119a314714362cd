"""bench/day.py keeps working: a tiny scripted day (60 mentions, 15 customers, 2 CSRs) passes
every one of its checks against a real ``sift serve`` and receiver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(n: int) -> list[int]:
    """Ports free now (the OS picks them), so runs side by side never collide."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_a_tiny_day_is_accounted_for_and_passes_its_checks(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIFT_")}
    port, receiver = _free_ports(2)
    args = ["--mentions", "60", "--customers", "15", "--csrs", "2", "--capacities", "20,40"]
    args += ["--spread", "5", "--quiet-period", "PT3S", "--timeout", "90", "--pull-share", "0.3"]
    args += ["--port", str(port), "--receiver-port", str(receiver)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "day.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RESULT: PASS" in done.stdout
    assert "lost 0, doubled 0" in done.stdout
    assert "15/15 complete" in done.stdout
    pulled = next(line for line in done.stdout.splitlines() if line.startswith("pulled"))
    assert " 0 cases" not in pulled, pulled  # the manual queue had work, claimed through tasks:next
