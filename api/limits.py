"""Request guards at the edge: the body is read up to a size limit before the app sees
it (413), and NUL characters, which no text column can hold on every database, are
refused in URLs (400) and JSON bodies (422) before anything runs."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Refuses bodies over ``default`` bytes (``by_suffix`` raises it for some paths)."""

    def __init__(self, app: ASGIApp, default: int, by_suffix: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.by_suffix = by_suffix or {}

    def limit_for(self, path: str) -> int:
        for suffix, limit in self.by_suffix.items():
            if path.endswith(suffix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            await _send_error(
                send,
                400,
                "InvalidCharacters",
                "The URL contains a NUL character (%00); remove it from the path or query.",
            )
            return
        limit = self.limit_for(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if b"100-continue" not in headers.get(b"expect", b"").lower():
                await _drain(receive, int(declared))
            await _refuse(send, limit)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_MAX)
                await _refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            if encoding not in _DECODERS:
                await _send_error(
                    send,
                    415,
                    "UnsupportedMediaType",
                    f"Content-Encoding {encoding.decode('latin-1')!r} is not supported; send the body "
                    "uncompressed, or with gzip or deflate.",
                )
                return
            try:
                body = _decompress(body, encoding, limit)
            except _TooLarge:
                await _refuse(send, limit, uncompressed=True)
                return
            except zlib.error:
                await _send_error(
                    send,
                    400,
                    "BadRequest",
                    f"The body is not valid {encoding.decode()} data; compress it again, or send it uncompressed.",
                )
                return
            kept = [
                (k, v)
                for k, v in scope["headers"]
                if k.lower() not in (b"content-encoding", b"content-length")
            ]
            scope = {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}
        if _declares_json(scope) and _wide_unicode(body[:4]):
            await _send_error(
                send,
                400,
                "MalformedJson",
                "The body is UTF-16 or UTF-32; send JSON encoded as UTF-8.",
            )
            return
        if _is_json(scope) and _JSON_NUL.search(body):
            await _send_error(
                send,
                422,
                "UnstorableValue",
                "The body contains a NUL character (\\u0000); text cannot hold it, remove it.",
            )
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# the most of a refused body read and dropped before the 413; past it the connection is cut
DRAIN_MAX = 64 * 1024 * 1024


async def _drain(receive: Receive, expected: int) -> None:
    """Reads and drops the rest of a refused body, at most ``DRAIN_MAX`` bytes. Most clients
    send the whole body before they read the answer, and a server that closes a socket with
    unread data in it makes the kernel reset the connection: the client then sees a broken
    pipe instead of the 413. uvicorn ends ``receive()`` once the response is complete, so the
    draining has to come before the answer (nginx's lingering close does it after)."""
    if expected > DRAIN_MAX:
        return
    seen = 0
    while seen <= DRAIN_MAX:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        seen += len(message.get("body", b""))


# a raw NUL byte, or a \u0000 escape not itself escaped (an odd run of backslashes)
_JSON_NUL = re.compile(rb"\x00|(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() in (b"application/json", b"")


def _declares_json(scope: Scope) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


def _has_nul(scope: Scope) -> bool:
    query = scope.get("query_string") or b""
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


async def _refuse(send: Send, limit: int, *, uncompressed: bool = False) -> None:
    what = "uncompressed body" if uncompressed else "body"
    await _send_error(
        send,
        413,
        "PayloadTooLarge",
        f"The {what} is larger than {limit} bytes; send less (split batches, shorten text).",
    )


class _TooLarge(Exception):
    pass


# zlib's wbits: 16 + MAX_WBITS reads a gzip wrapper, MAX_WBITS a zlib (deflate) one
_DECODERS = {b"gzip": 16 + zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}


def _decompress(body: bytes, encoding: bytes, limit: int) -> bytes:
    """The body uncompressed, never more than ``limit`` bytes of it held (a small body that
    inflates to gigabytes is refused as it grows, not after)."""
    inflater = zlib.decompressobj(_DECODERS[encoding])
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise _TooLarge
    if not inflater.eof:
        raise zlib.error("truncated")
    return out


def _wide_unicode(head: bytes) -> bool:
    """A UTF-16 or UTF-32 JSON text, by its byte-order mark or the NULs around its first
    ASCII character (RFC 4627's way of telling them)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return len(head) == 4 and ((head[0] == 0 and head[2] == 0) or (head[1] == 0 and head[3] == 0))


async def _send_error(send: Send, status: int, code: str, detail: str) -> None:
    body: dict[str, Any] = {"error": code, "detail": detail}
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})
