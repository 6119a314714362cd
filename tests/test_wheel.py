"""The built wheel is Sift on its own: it holds every file the code reads at run time, and once
installed in a fresh virtual environment outside the repository it migrates, serves and turns
a signal into a case from an empty folder.

Both tests build the wheel from a copy of the sources (the build leaves ``build/`` and
``*.egg-info`` behind) and run only in the SQLite run of the suite: what they check does not
depend on the test database.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
# repository folder -> where the wheel carries it (setup.py)
FOLDERS = {
    "engine": "engine",
    "api": "api",
    "processes": "engine/processes/shipped",
    "migrations": "engine/migrations",
}
ADMIN_KEY = "sift_wheel_test_admin_key_0123456789"
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*_cache", "node_modules")
SKIPPED_AT_TOP = {".git", ".venv", "data", "build", "dist"}


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What the copy of the sources leaves out: caches everywhere, local state at the top."""
    return set(SKIPPED(folder, names)) | (SKIPPED_AT_TOP & set(names) if Path(folder) == ROOT else set())


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SIFT_TEST_DB", "sqlite") != "sqlite",
        reason="runs once per suite run, in the SQLite run",
    ),
]


def _run(args: list[str | Path], *, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr[-4000:]}"
    )
    return done


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_not_sources)
    out = tmp_path / "wheel"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, source],
        timeout=300,
    )
    (wheel,) = out.glob("sift-*.whl")
    return wheel


def test_the_wheel_holds_every_file_of_engine_api_processes_and_migrations(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        held = set(z.namelist())
    wanted = {
        f"{inside}/{path.relative_to(ROOT / folder).as_posix()}"
        for folder, inside in FOLDERS.items()
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "engine/nlp/model/sentiment.npz" in wanted  # the walk sees the data files
    assert sorted(wanted - held) == [], "left out of the wheel"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(what: str, check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


def test_the_installed_wheel_migrates_serves_and_opens_a_case_from_an_empty_folder(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    # dependencies resolved by pip as a user's install would (from its cache when warm)
    _run([venv / "bin/python", "-m", "pip", "install", "--quiet", wheel], timeout=600)

    folder = tmp_path / "empty"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIFT_", "PYTHON", "VIRTUAL_ENV"))}
    env["SIFT_BOOTSTRAP_ADMIN_KEY"] = ADMIN_KEY
    where = _run(
        [venv / "bin/python", "-c", "import engine; print(engine.__file__)"], timeout=60, cwd=folder, env=env
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), "engine was imported from outside the venv"

    migrated = _run([venv / "bin/sift", "migrate"], timeout=120, cwd=folder, env=env)
    assert "database at head" in migrated.stdout
    assert (folder / "data" / "sift.db").is_file()

    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [venv / "bin/sift", "serve", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
        ) as http:

            def healthy() -> bool | None:
                assert server.poll() is None, f"sift serve stopped:\n{(tmp_path / 'serve.log').read_text()}"
                try:
                    return http.get("/healthz").status_code == 200 or None
                except httpx.TransportError:
                    return None

            _wait_for("sift serve to answer /healthz", healthy)
            posted = http.post(
                "/api/v1/signals",
                json={
                    "source": "twitter",
                    "external_id": "wheel-1",
                    "text": "@acme my order A12345 never arrived, 3 weeks now",
                    "author": {"handle": "@jane", "followers": 1200},
                },
            )
            assert posted.status_code == 202, posted.text

            def processed() -> dict[str, object] | None:
                signal = http.get(f"/api/v1/signals/{posted.json()['id']}").json()
                return None if signal["status"] == "pending" else signal

            signal = _wait_for("the worker to process the signal", processed)
            assert signal["status"] == "processed", signal
            case = http.get(f"/api/v1/cases/{signal['case_id']}")
            assert case.status_code == 200, case.text
            assert [t["name"] for t in case.json()["tasks"]] == ["triage"]
            # the docs' assets come from an installed dependency, not from the checkout
            (script,) = re.findall(r'<script src="([^"]+)"', http.get("/docs").text)
            assert http.get(script).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
