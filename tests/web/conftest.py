"""Browser tests: a real ``sift serve`` on SQLite (its own file and port, with a reply receiver on
127.0.0.1 as its SIFT_REPLY_ENDPOINT), driven by Playwright in Debian's Chromium
(/usr/bin/chromium; Playwright's own browser download is never used). Screenshots of each page
go to tests/web/screenshots/ (ignored by git)."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.delivery.receiver import Receiver, receiver

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).parent / "screenshots"
ADMIN_KEY = "web-test-admin-key-0123456789abcdef"


def _ports(spec: str) -> range:
    """``SIFT_WEB_TEST_PORTS=8830-8839``: the ports a checkout's browser tests may use."""
    first, _, last = spec.partition("-")
    return range(int(first), int(last or first) + 1)


PORTS = _ports(os.environ.get("SIFT_WEB_TEST_PORTS", "8840-8849"))  # this checkout's ports


def _browser_ready() -> None:
    if BACKEND != "sqlite":
        pytest.skip("the browser tests run in the SQLite pass (their server has its own SQLite file)")
    missing = [str(p) for p in (CHROMIUM, AXE) if not p.exists()]
    if missing:
        message = f"needed for the browser tests: {', '.join(missing)} (./dev test installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _free_port(locks: list[Any]) -> int:
    """A port nobody listens on that no other test worker is about to take: each candidate is
    claimed with an exclusive lock file held until the server stops (two workers probing one
    port at once would otherwise both start a server on it, and one would talk to the other's)."""
    for port in PORTS:
        lock = open(Path(tempfile.gettempdir()) / f"sift-web-test-port-{port}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                lock.close()
                continue
        locks.append(lock)
        return port
    raise RuntimeError(f"no free port in {PORTS}")


@dataclass
class Server:
    url: str
    database: Path
    replies: Receiver
    keys: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, self.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kwargs
        )

    def key(self, name: str, role: str, **extra: Any) -> str:
        r = self.call("POST", "/api/v1/keys", ADMIN_KEY, json={"name": name, "role": role, **extra})
        assert r.status_code == 201, r.text
        self.keys[name] = r.json()["key"]
        return self.keys[name]

    def signal(self, text: str, **extra: Any) -> str:
        """Posts a mention and waits for its case; returns the case id."""
        n = time.monotonic_ns()
        body = {
            "source": "twitter",
            "external_id": f"web-{n}",
            "text": text,
            "author": {"handle": f"@cust{n % 100000}", "followers": 900},
            **extra,
        }
        r = self.call("POST", "/api/v1/signals", self.keys["feed"], json=body)
        assert r.status_code == 202, r.text
        return self.wait_case(r.json()["id"])

    def wait_case(self, signal_id: str, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sig = self.call("GET", f"/api/v1/signals/{signal_id}", self.keys["feed"]).json()
            if sig["status"] == "processed" and sig["case_id"]:
                return str(sig["case_id"])
            assert sig["status"] in ("pending", "buffered"), sig
            time.sleep(0.1)
        raise AssertionError(f"signal {signal_id} opened no case within {seconds} s")


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sift serve stopped:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"sift serve did not answer /healthz:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _browser_ready()
    folder = tmp_path_factory.mktemp("web")
    locks: list[Any] = []
    port = _free_port(locks)
    with receiver() as replies:
        # the embedded default database in its own data folder, migrated by serve at start
        env = {
            **{k: v for k, v in os.environ.items() if k != "SIFT_DATABASE_URL"},
            "SIFT_DATA_DIR": str(folder),
            "SIFT_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "SIFT_REPLY_ENDPOINT": replies.url,
            "SIFT_REPLY_RETRY_BASE_SECONDS": "0.2",
            "SIFT_SCRIPT_POOL_SIZE": "1",
        }
        log = folder / "server.log"
        sift = Path(sys.executable).with_name("sift")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(sift), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process, log)
            assert process.poll() is None, log.read_text()[-3000:]  # it answered, not another
            srv = Server(url=url, database=folder / "sift.db", replies=replies)
            srv.key("feed", "integration")
            yield srv
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            for lock in locks:
                lock.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def signed_in(server: Server, browser: Any) -> Iterator[Callable[[str], Any]]:
    """Opens a fresh browser context (its own cookies) signed in as the named key holder."""
    contexts: list[Any] = []

    def open_as(name: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(server.url + "/signin")
        page.get_by_label("API key").fill(server.keys[name])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/work**")
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core (npm) on the page as it stands: the serious and critical WCAG A/AA violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
