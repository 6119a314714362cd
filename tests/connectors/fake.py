"""A fake network on 127.0.0.1 (OS-chosen ports) that serves recorded fixtures: JSON routes,
server-sent event streams fed by the test, and a Jetstream-like WebSocket that replays events
from a ``cursor``. It records every request, so tests see what a connector asked for."""

from __future__ import annotations

import collections
import json
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    path = FIXTURES / name
    if name.endswith(".json"):
        return json.loads(path.read_text())
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return path.read_bytes()


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class Stream:
    """Events for the next subscriber of one SSE path (None ends its response); an event leaves
    only once written to a connected client, so none is lost between two subscriptions."""

    def __init__(self) -> None:
        self.items: collections.deque[str | None] = collections.deque()

    def put(self, item: str | None) -> None:
        self.items.append(item)


Answer = tuple[int, dict[str, str], bytes | Any]
Route = Callable[[Req], Answer]


@dataclass
class Fake:
    url: str
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    streams: dict[str, Stream] = field(default_factory=dict)
    requests: list[Req] = field(default_factory=list)
    ws_url: str = ""
    ws_events: list[dict[str, Any]] = field(default_factory=list)
    ws_live: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    ws_status: list[int] = field(default_factory=list)  # handshake answers, in order, then 101
    ws_cursors: list[str | None] = field(default_factory=list)

    def route(self, method: str, path: str, answer: Route | Answer | Any) -> None:
        if callable(answer):
            self.routes[(method, path)] = answer
        elif isinstance(answer, tuple):
            self.routes[(method, path)] = lambda req, a=answer: a
        else:
            self.routes[(method, path)] = lambda req, a=answer: (200, {}, a)

    def stream(self, path: str) -> Stream:
        return self.streams.setdefault(path, Stream())

    def hits(self, method: str, path: str) -> list[Req]:
        return [r for r in self.requests if r.method == method and r.path == path]


@contextmanager
def fake_network(websocket: bool = False) -> Iterator[Fake]:
    state: dict[str, Fake] = {}
    lock = threading.Lock()
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            req = Req(
                method,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            fake = state["f"]
            with lock:
                fake.requests.append(req)
            if method == "GET" and parts.path in fake.streams:
                return self._sse(fake.streams[parts.path])
            route = fake.routes.get((method, parts.path))
            if route is None:
                status, headers, out = 404, {}, {"error": "Record not found"}
            else:
                status, headers, out = route(req)
            data = out if isinstance(out, bytes) else json.dumps(out).encode()
            self.send_response(status)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 304:
                self.wfile.write(data)

        def _sse(self, q: Stream) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(":)\n\n")
            while not stopping.is_set():
                if not q.items:
                    time.sleep(0.02)
                    continue
                if self._client_gone():
                    return  # what is queued waits for the next subscriber
                item = q.items[0]
                if item is None:
                    q.items.popleft()
                    break
                try:
                    self._chunk(item)
                except OSError:
                    return
                q.items.popleft()
            with suppress(OSError):
                self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True

        def _client_gone(self) -> bool:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        def _chunk(self, text: str) -> None:
            data = text.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["f"] = Fake(url=f"http://127.0.0.1:{server.server_address[1]}")
    threads = [threading.Thread(target=server.serve_forever, daemon=True)]
    ws_server = None
    if websocket:
        ws_server = _jetstream(state["f"], stopping)
        state["f"].ws_url = f"ws://127.0.0.1:{ws_server.socket.getsockname()[1]}/subscribe"
        threads.append(threading.Thread(target=ws_server.serve_forever, daemon=True))
    for t in threads:
        t.start()
    try:
        yield state["f"]
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        if ws_server is not None:
            ws_server.shutdown()


def _jetstream(fake: Fake, stopping: threading.Event) -> Any:
    """Replays ``fake.ws_events`` with ``time_us`` at or after the request's cursor, then sends
    what the test puts in ``fake.ws_live`` (None closes the connection, code 1000)."""
    from websockets.datastructures import Headers
    from websockets.http11 import Response
    from websockets.sync.server import serve

    def process_request(connection: Any, request: Any) -> Any:
        if fake.ws_status:
            status = fake.ws_status.pop(0)
            return Response(
                status, "Too Many Requests", Headers({"Retry-After": "7", "Content-Length": "0"}), b""
            )
        return None

    def handler(ws: Any) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = query.get("cursor", [None])[0]
        fake.ws_cursors.append(cursor)
        for event in fake.ws_events:
            if cursor is None or event["time_us"] >= int(cursor):
                ws.send(json.dumps(event))
        while not stopping.is_set():
            try:
                item = fake.ws_live.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                ws.close(1000)
                return
            fake.ws_events.append(item)
            ws.send(json.dumps(item))

    return serve(handler, "127.0.0.1", 0, process_request=process_request)
