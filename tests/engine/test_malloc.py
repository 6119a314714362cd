"""The allocator bounds of sift serve and sift worker, and the imports a server does not pay for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.worker.service import tune_malloc

ROOT = Path(__file__).resolve().parents[2]

# eight threads allocate at once (blocks past pymalloc's 512 bytes go to malloc); glibc's
# malloc_stats() then prints one "Arena N:" block per arena on stderr
PROBE = """
import ctypes, sys, threading
from engine.worker.service import tune_malloc
if sys.argv[1] == "tuned":
    assert tune_malloc(2, 1 << 20)
def churn():
    for _ in range(20000):
        blocks = [bytes(2048) for _ in range(8)]
        del blocks
threads = [threading.Thread(target=churn) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_two_arenas_bound_a_threaded_process() -> None:
    if not tune_malloc(0, 0):  # 0, 0 changes nothing: this only asks whether mallopt exists
        pytest.skip("no glibc mallopt here")
    assert _arenas("tuned") <= 2
    assert _arenas("plain") > 2  # the probe does make glibc open more arenas without the bound


def test_the_app_imports_no_optional_feature_package() -> None:
    """holidays (business calendars naming a country), cryptography (connector credentials) and
    feedparser (the RSS connector) load when used: about 10 MB a server without them keeps."""
    code = "import sys, api.app; print(sorted(m for m in ('holidays', 'cryptography', 'feedparser') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
