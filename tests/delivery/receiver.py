"""A real HTTP server on 127.0.0.1 (an OS-chosen port) that records what it receives and answers
with the statuses it is told to, then 200; optionally it verifies Sift's signature on its own,
refusing a bad signature, a stale timestamp and a delivery id it has already handled."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    secret: str | None = None  # set: verify as a careful receiver would
    tolerance: int = 300
    requests: list[Received] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    answer: dict[str, Any] | None = None

    def verdict(self, headers: dict[str, str], body: bytes) -> int:
        if self.statuses:
            return self.statuses.pop(0)
        if self.secret is None:
            return 200
        parts = dict(p.split("=", 1) for p in headers.get("sift-signature", "").split(",") if "=" in p)
        if not parts.get("t", "").isdigit():
            return 400
        expected = hmac.new(
            self.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            return 401
        if abs(time.time() - int(parts["t"])) > self.tolerance:
            return 408
        delivery = json.loads(body)["id"]
        if delivery in self.seen:
            return 409
        self.seen.add(delivery)
        return 200


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                rec = state["r"]
                status = rec.verdict(headers, body)
                rec.requests.append(Received(headers, body, status))
            out = json.dumps(rec.answer or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook", **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()


def replay(url: str, headers: dict[str, str], body: bytes) -> int:
    """Sends a captured request again, byte for byte (what an attacker who saw it could do)."""
    import httpx

    keep = {k: v for k, v in headers.items() if k.startswith("sift-") or k == "content-type"}
    return httpx.post(url, content=body, headers=keep).status_code
