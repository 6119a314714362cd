from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, ValidationError

from api import ratelimit
from api.deps import Caller, DbSession, after_commit
from api.signals.schemas import AcceptedOut, BatchIn, BatchOut, ItemError, SignalIn, SignalOut, SignalPage
from engine.signals import service as signals

router = APIRouter(prefix="/api/v1/signals", tags=["signals"])


def _wake_worker(request: Request, new_ids: list[str]) -> None:
    """After the commit: the new signals go to the NATS intake when it is on (the database row
    is already the truth), and an in-process worker polling the inbox is woken."""
    intake = getattr(request.app.state, "intake", None)
    if intake is not None and new_ids:
        intake.publish(new_ids)
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


@router.post(
    "",
    status_code=202,
    response_model=AcceptedOut,
    responses={
        200: {"model": AcceptedOut, "description": "Already stored: the same (source, external_id) again."}
    },
)
def post_signal(
    body: SignalIn, caller: Caller, session: DbSession, request: Request, response: Response
) -> AcceptedOut:
    """Accepts one mention. 202 once it is stored; the same (source, external_id) again → 200, same id."""
    caller.require("integration")
    ratelimit.of(request.app).take_ingest(caller.name, 1)
    (result,) = signals.accept(session, [body.to_engine()])
    if result.duplicate:
        response.status_code = 200
    else:
        after_commit(session, lambda: _wake_worker(request, [result.id]))
    return AcceptedOut(id=result.id, status=result.status, duplicate=result.duplicate)


@router.post(":batch", status_code=202, response_model=BatchOut)
def post_batch(body: BatchIn, caller: Caller, session: DbSession, request: Request) -> BatchOut:
    """Up to 1000 mentions; results in input order; a bad item does not sink the others."""
    caller.require("integration")
    ratelimit.of(request.app).take_ingest(caller.name, len(body.signals))
    parsed: list[SignalIn | ItemError] = []
    for index, item in enumerate(body.signals):
        try:
            parsed.append(SignalIn.model_validate(item))
        except ValidationError as err:
            fields = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
            ]
            names = ", ".join(f["field"] or "(item)" for f in fields)
            parsed.append(
                ItemError(
                    error="ValidationFailed", detail=f"Item {index} is invalid: {names}.", fields=fields
                )
            )
    good = [p.to_engine() for p in parsed if isinstance(p, SignalIn)]
    stored = signals.accept(session, good)
    new_ids = [a.id for a in stored if not a.duplicate]
    accepted = iter(stored)
    results: list[AcceptedOut | ItemError] = []
    for p in parsed:
        if isinstance(p, ItemError):
            results.append(p)
        else:
            a = next(accepted)
            results.append(AcceptedOut(id=a.id, status=a.status, duplicate=a.duplicate))
    after_commit(session, lambda: _wake_worker(request, new_ids))
    return BatchOut(results=results)


@router.get("", response_model=SignalPage)
def list_signals(
    caller: Caller,
    session: DbSession,
    status: Annotated[
        str | None, Query(description="pending | buffered | processed | ignored | failed")
    ] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="received at or after (ISO 8601 with a zone)")
    ] = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> SignalPage:
    """Signals, newest first, one page at a time."""
    caller.require("integration", "csr", "supervisor", "process_owner")
    flt = signals.SignalFilter(status=status, source=source, since=since, case_id=case_id)
    rows, next_cursor = signals.list_signals(session, flt, limit=limit, cursor=cursor)
    return SignalPage(items=[SignalOut.model_validate(s) for s in rows], next_cursor=next_cursor)


@router.get("/{signal_id}", response_model=SignalOut)
def get_signal(signal_id: str, caller: Caller, session: DbSession) -> SignalOut:
    caller.require("integration", "csr", "supervisor", "process_owner")
    return SignalOut.model_validate(signals.get(session, signal_id))
