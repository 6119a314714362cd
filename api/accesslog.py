"""One access-log line per request on the ``sift.access`` logger (INFO).

``method=GET path=/api/v1/cases status=200 ms=3.2 key=alice``: the path without its query
string (queries carry search text and handles), the status sent, the time until the response
finished, and the holder name of the key that authenticated (``-`` when none did). Never the key,
a body or a query value. The same fields ride on the record as ``extra`` for structured handlers.

A pure ASGI middleware (BaseHTTPMiddleware would buffer streamed responses and run the app in
another task); the auth dependency leaves the holder name in ``request.state``, which lives in
the ASGI scope that this middleware shares with the app.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("sift.access")

#: the ``request.state`` attribute the auth dependency sets to the key holder's name
KEY_NAME = "sift_key_name"
_MAX_PATH = 300


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # made here, so the app's request.state writes into the dict this middleware reads
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            # the outermost error handler answers 500 after this middleware has let go
            status = status or 500
            raise
        finally:
            _line(scope, status, (time.perf_counter() - started) * 1000, state.get(KEY_NAME))


def _line(scope: Scope, status: int, ms: float, key_name: str | None) -> None:
    path = _path(scope)
    log.info(
        "method=%s path=%s status=%d ms=%.1f key=%s",
        scope["method"],
        path,
        status,
        ms,
        key_name or "-",
        extra={
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round(ms, 1),
            "key_name": key_name,
        },
    )


def _path(scope: Scope) -> str:
    # the path as sent (percent-encoded: no spaces or line breaks), never the query string
    raw = scope.get("raw_path")
    if raw:
        path = raw.split(b"?", 1)[0].decode("ascii", "backslashreplace")
    else:
        path = quote(scope["path"], safe="/:@!$&'()*+,;=-._~")
    return path if len(path) <= _MAX_PATH else path[:_MAX_PATH] + "..."
