"""Bluesky: Jetstream (the WebSocket JSON firehose of the network's commits) filtered here by
the query's terms, handles and hashtags; replies as posts through the AT Protocol API.

The cursor is Jetstream's ``time_us`` of the last event read, with the posts read at that very
microsecond; a run reconnects with ``cursor=<time_us>`` and Jetstream replays from there, so a
restart loses nothing, and what the cursor already covers is skipped, so nothing is offered
twice. It is saved with every matching post and every few seconds in between.

Replying: ``com.atproto.server.createSession`` (identifier and app password) gives an access
token; ``com.atproto.repo.createRecord`` writes an ``app.bsky.feed.post`` with reply refs to the
mention (parent) and its thread's root. The record key is a TID made from the reply's queue time
and id, the same on every attempt, so a reply handed over again after a crash finds its record
(``getRecord``) instead of posting twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from engine.connectors.base import RateLimited, Run, SourceError, check_url, parse_time
from engine.connectors.replying import ReplyTo, attempt, cache_key, sent
from engine.delivery.http import Sent
from engine.signals.service import NewSignal

CREDENTIALS = ("identifier", "password")
POLLS = False
POST = "app.bsky.feed.post"
STREAM = "jetstream"
SAVE_EVERY_SECONDS = 5.0
DEFAULT_SERVICE = "https://bsky.social"


def check(
    options: dict[str, Any],
    query: dict[str, Any],
    credentials: dict[str, Any] | None,
    problems: list[dict[str, str]],
) -> dict[str, Any]:
    clean: dict[str, Any] = {
        "jetstream_url": check_url(
            options.get("jetstream_url"), "options.jetstream_url", problems, schemes=("ws", "wss")
        ),
        "service": check_url(options.get("service", DEFAULT_SERVICE), "options.service", problems),
    }
    for key in options:
        if key not in clean:
            problems.append({"field": f"options.{key}", "message": "unknown for bluesky"})
    if not (query.get("terms") or query.get("handles") or query.get("hashtags")):
        problems.append(
            {"field": "query", "message": "the firehose needs terms, handles or hashtags to filter by"}
        )
    return clean


def _facets(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    tags, mentioned = [], []
    for facet in record.get("facets") or []:
        for feature in facet.get("features") or []:
            kind = feature.get("$type", "")
            if kind.endswith("#tag") and feature.get("tag"):
                tags.append(str(feature["tag"]))
            elif kind.endswith("#mention") and feature.get("did"):
                mentioned.append(str(feature["did"]))
    return tags, mentioned


def post_signal(run: Run, event: dict[str, Any]) -> NewSignal | None:
    """A created post that the query wants, as a mention; None otherwise."""
    commit = event.get("commit") or {}
    if (
        event.get("kind") != "commit"
        or commit.get("operation") != "create"
        or commit.get("collection") != POST
    ):
        return None
    record = commit.get("record") or {}
    text = str(record.get("text") or "")
    did, rkey = str(event.get("did") or ""), str(commit.get("rkey") or "")
    if not text or not did or not rkey:
        return None
    tags, mentioned = _facets(record)
    if not run.query.wanted(text, tags=tags, mentioned=[did, *mentioned]):
        return None
    uri = f"at://{did}/{POST}/{rkey}"
    reply = record.get("reply") or {}
    parent, root = reply.get("parent") or {}, reply.get("root") or {}
    return run.signal(
        external_id=uri,
        text=text,
        author={"handle": did, "id": did},
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        posted_at=parse_time(record.get("createdAt")),
        in_reply_to=parent.get("uri"),
        metadata={
            "uri": uri,
            "cid": commit.get("cid"),
            "root": {"uri": root.get("uri") or uri, "cid": root.get("cid") or commit.get("cid")},
            "time_us": event.get("time_us"),
        },
    )


def run(r: Run) -> None:
    cursor = dict(r.cursors.get(STREAM) or {})
    at, seen = cursor.get("time_us"), set(cursor.get("seen") or [])
    params: dict[str, Any] = {"wantedCollections": POST}
    if at is not None:
        params["cursor"] = at
    url = f"{r.options['jetstream_url']}?{urlencode(params)}"
    timeout = float(r.client.timeout.connect or 10.0)
    last_save = time.monotonic()
    dirty = False
    try:
        with connect(url, open_timeout=timeout, close_timeout=2.0, max_size=2**22) as ws:
            while (left := r.remaining()) > 0:
                try:
                    raw = ws.recv(timeout=left)
                except TimeoutError:
                    break
                event = json.loads(raw)
                t = event.get("time_us")
                if not isinstance(t, int):
                    continue
                ident = f"{event.get('did')}/{(event.get('commit') or {}).get('rkey')}"
                if at is not None and (t < at or (t == at and ident in seen)):
                    continue  # the cursor covers it: replayed from where the last run stopped
                if t != at:
                    at, seen = t, set()
                seen.add(ident)
                mention = post_signal(r, event)
                if mention is not None:
                    r.save(STREAM, {"time_us": at, "seen": sorted(seen)}, [mention])
                    last_save, dirty = time.monotonic(), False
                else:
                    dirty = True
                    if time.monotonic() - last_save >= SAVE_EVERY_SECONDS:
                        r.save(STREAM, {"time_us": at, "seen": sorted(seen)})
                        last_save, dirty = time.monotonic(), False
    except InvalidStatus as err:
        status = err.response.status_code
        if status == 429:
            headers = {k.lower(): v for k, v in err.response.headers.raw_items()}
            wait = r.retry_after(headers)
            raise RateLimited(f"HTTP 429 from Jetstream: rate limited, waiting {wait:.0f} s", wait) from err
        raise SourceError(f"HTTP {status} from Jetstream") from err
    except ConnectionClosed as err:
        if dirty and at is not None:
            r.save(STREAM, {"time_us": at, "seen": sorted(seen)})
        if err.rcvd is not None and err.rcvd.code == 1000:
            return  # closed cleanly by the server: the next run reconnects from the cursor
        raise SourceError("Jetstream closed the connection") from err
    except (OSError, WebSocketException, TimeoutError) as err:
        raise SourceError(f"Jetstream: {type(err).__name__}: could not connect or read") from err
    r.save(STREAM, {"time_us": at, "seen": sorted(seen)} if at is not None else {})


# --- replies ---------------------------------------------------------------------------------

_S32 = "234567abcdefghijklmnopqrstuvwxyz"
_sessions: dict[str, tuple[str, str, float]] = {}  # cache key -> (access token, did, monotonic expiry)
_sessions_lock = threading.Lock()
SESSION_SECONDS = 30 * 60  # access tokens live longer; a fresh one is made well before


def tid(micros: int, salt: str) -> str:
    """A record key in the TID format: 53 bits of microseconds, 10 bits of clock id, base32-sortable."""
    clock = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:2], "big") & 0x3FF
    value = ((micros & ((1 << 53) - 1)) << 10) | clock
    return "".join(_S32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _session(to: ReplyTo, fresh: bool = False) -> tuple[str, str] | Sent:
    with _sessions_lock:
        held = _sessions.get(cache_key(to.connector_id, to.credentials))
        if held and not fresh and held[2] > time.monotonic():
            return held[0], held[1]
    identifier, password = to.credentials.get("identifier"), to.credentials.get("password")
    if not identifier or not password:
        return Sent(False, None, "the connector has no identifier and password to post with", 0.0)
    r, failed = attempt(
        to.client,
        "POST",
        to.options["service"] + "/xrpc/com.atproto.server.createSession",
        json={"identifier": identifier, "password": password},
    )
    if failed is not None or r is None:
        return Sent(
            False,
            failed.status_code if failed else None,
            f"createSession: {failed.error if failed else 'no answer'}",
            0.0,
        )
    answer = r.json()
    with _sessions_lock:
        _sessions[cache_key(to.connector_id, to.credentials)] = (
            answer["accessJwt"],
            answer["did"],
            time.monotonic() + SESSION_SECONDS,
        )
    return answer["accessJwt"], answer["did"]


def reply(to: ReplyTo) -> Sent:
    root = to.mention.get("root") or {}
    parent = {"uri": to.mention.get("uri") or to.mention_id, "cid": to.mention.get("cid")}
    if not parent["cid"]:
        return Sent(False, None, "the mention has no cid to reply to", 0.0)
    rkey = tid(int(to.created_at.timestamp() * 1_000_000), to.reply.id)
    result: Sent | None = None
    for fresh in (False, True):
        held = _session(to, fresh)
        if isinstance(held, Sent):
            return held
        token, did = held
        headers = {"Authorization": f"Bearer {token}"}
        record = {
            "$type": POST,
            "text": to.reply.text,
            "createdAt": to.created_at.isoformat().replace("+00:00", "Z"),
            "reply": {
                "root": {"uri": root.get("uri") or parent["uri"], "cid": root.get("cid") or parent["cid"]},
                "parent": parent,
            },
        }
        body = {"repo": did, "collection": POST, "rkey": rkey, "record": record}
        r, failed = attempt(
            to.client,
            "POST",
            to.options["service"] + "/xrpc/com.atproto.repo.createRecord",
            json=body,
            headers=headers,
        )
        if failed is None and r is not None:
            return sent(r, r.json().get("uri"))
        # written by an earlier attempt whose answer was lost? then it is there under its key
        g, missing = attempt(
            to.client,
            "GET",
            to.options["service"] + "/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": POST, "rkey": rkey},
            headers=headers,
        )
        if missing is None and g is not None:
            return sent(g, g.json().get("uri"))
        result = failed
        if not (failed and failed.status_code in (400, 401) and r is not None and "xpired" in r.text):
            break  # only an expired token is worth a fresh session
    return result or Sent(False, None, "no answer", 0.0)
