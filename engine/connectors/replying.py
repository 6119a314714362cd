"""What a kind's reply function gets: the connector's settings, the mention replied to, the
reply, and an HTTP client; it answers with a :class:`~engine.delivery.http.Sent`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from engine.delivery.http import Sent
from engine.delivery.replies import Outgoing


@dataclass(frozen=True)
class ReplyTo:
    connector_id: str
    options: dict[str, Any]
    credentials: dict[str, Any]
    mention_id: str  # the mention's external id
    mention: dict[str, Any]  # its metadata, as the connector stored it
    author: dict[str, Any]
    reply: Outgoing
    created_at: datetime  # when the reply was queued
    client: httpx.Client


def cache_key(connector_id: str, credentials: dict[str, Any]) -> str:
    """Where a session or token made with these credentials is cached: changed credentials
    (PATCH) make a new key in every process, so a stale token is never used."""
    digest = hashlib.sha256(json.dumps(credentials, sort_keys=True).encode()).hexdigest()[:16]
    return f"{connector_id}:{digest}"


def attempt(
    client: httpx.Client, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response | None, Sent | None]:
    """One request; a failure to connect or a non-2xx comes back as a failed :class:`Sent`."""
    try:
        r = client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        return None, Sent(False, None, "timed out", 0.0)
    except httpx.HTTPError as err:
        return None, Sent(False, None, f"{type(err).__name__}: could not connect or send", 0.0)
    if not 200 <= r.status_code < 300:
        return r, Sent(False, r.status_code, f"HTTP {r.status_code}", r.elapsed.total_seconds() * 1000.0)
    return r, None


def sent(r: httpx.Response, external_id: str | None) -> Sent:
    return Sent(True, r.status_code, None, r.elapsed.total_seconds() * 1000.0, {"external_id": external_id})
