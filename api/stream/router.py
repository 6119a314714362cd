"""Live updates for the web pages: one server-sent events stream fed from the events table.

Each poll opens its own short unit of work (the request's own session has committed before the
first byte is sent) and reads the events after the last one sent, by their sequence number. An
event carries its id, type, case, actor and time, never its data: a page that hears of a change
fetches what it shows through the API, with the caller's rights. The stream closes after
``wait`` seconds and the browser's EventSource reconnects with ``Last-Event-ID``, so a revoked
key or ended session stops receiving within one period.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, DbSession
from engine.db import unit_of_work
from engine.events import service as events

router = APIRouter(prefix="/api/v1", tags=["stream"])
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0


def _read(after: int) -> list[dict[str, object]]:
    with unit_of_work() as session:
        return [
            {
                "seq": e.seq,
                "id": e.id,
                "type": e.type,
                "case_id": e.case_id,
                "actor": e.actor,
                "at": e.at.isoformat(),
            }
            for e in events.live_after(session, after)
        ]


def _frame(event: dict[str, object]) -> str:
    # no "event:" field: every frame reaches EventSource.onmessage, the type is in the data
    return f"id: {event['seq']}\ndata: {json.dumps(event)}\n\n"


async def _feed(request: Request, after: int, wait: float) -> AsyncIterator[str]:
    deadline = time.monotonic() + wait
    quiet_since = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        batch = await run_in_threadpool(_read, after)
        for event in batch:
            after = int(str(event["seq"]))
            yield _frame(event)
        if batch:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        if time.monotonic() >= deadline or await request.is_disconnected():
            return
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
def stream(
    request: Request,
    caller: Caller,
    session: DbSession,
    wait: Annotated[float, Query(ge=0, le=300, description="seconds before the server closes")] = 55,
    after: Annotated[int | None, Query(ge=0, description="the last event seq seen")] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Server-sent events: one per case event (and presence or queue change) after
    ``Last-Event-ID``, else after ``after``; without either, from now on."""
    caller.require("csr", "supervisor")
    # a reconnecting EventSource sends Last-Event-ID and the URL it first opened: the header wins
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    if start is None:
        start = events.last_seq(session)
    return StreamingResponse(
        _feed(request, start, wait),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
