"""The body limit over a real socket: a client that sends its whole body before it reads the
answer (urllib, curl, most SDKs) gets the 413, not a connection reset. The server runs in a
process of its own, as in production: in a thread of the test process the client finishes
sending before the server closes, and the reset never shows."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from starlette.types import Receive, Scope, Send

from api.limits import DRAIN_MAX, BodyLimit

LIMIT = 1_048_576


async def _echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    raw = json.dumps({"length": len(body)}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": raw})


app = BodyLimit(_echo_length, default=LIMIT)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{__name__}:app", "--port", str(port), "--log-level", "error"],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the test server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _post(url: str, body: bytes) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_2_mb_body_sent_whole_gets_the_413(base_url):
    for _ in range(3):
        status, body = _post(base_url + "/api/v1/signals", b'{"text": "' + b"a" * 2_000_000 + b'"}')
        assert (status, body["error"]) == (413, "PayloadTooLarge")


def test_a_chunked_body_over_the_limit_gets_the_413(base_url):
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=30)
    chunks = (b"x" * 65_536 for _ in range(40))  # 2.5 MB with no Content-Length
    connection.request("POST", "/api/v1/signals", body=chunks, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"] == "PayloadTooLarge"
    connection.close()


def test_a_body_under_the_limit_still_reaches_the_app(base_url):
    assert _post(base_url + "/x", b"y" * 1000) == (200, {"length": 1000})


def test_a_declared_length_past_the_drain_cap_is_refused_without_reading(base_url):
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            f"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {DRAIN_MAX + 1}\r\n\r\n".encode() + b"z" * 1000
        )
        answer = s.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 413")
