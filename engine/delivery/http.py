"""One HTTP POST, its outcome as data: a 2xx is delivered, anything else (a status, a refused
connection, a timeout) is a failed attempt with a short reason that names no secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Sent:
    ok: bool
    status_code: int | None
    error: str | None
    elapsed_ms: float
    response: Any = None  # the parsed JSON answer of a 2xx, when it sent one


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> Sent:
    try:
        r = client.post(url, content=body, headers={"Content-Type": "application/json", **headers})
    except httpx.TimeoutException:
        return Sent(False, None, "timed out", 0.0)
    except httpx.HTTPError as err:
        return Sent(False, None, f"{type(err).__name__}: could not connect or send", 0.0)
    elapsed = r.elapsed.total_seconds() * 1000.0
    if 200 <= r.status_code < 300:
        try:
            answer = r.json() if r.content else None
        except ValueError:
            answer = None
        return Sent(True, r.status_code, None, elapsed, answer)
    return Sent(False, r.status_code, f"HTTP {r.status_code}", elapsed)


def client(timeout: float) -> httpx.Client:
    """Redirects are not followed: a subscriber's URL is where it said, not where it points."""
    return httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "Sift-Webhooks/1"})
