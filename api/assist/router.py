"""Assisted replies: a draft and a summary for the CSR to edit (off unless configured).

The endpoint opens its own short units of work around the model's call instead of the request's
one: a chat completion can take many seconds, and on SQLite a transaction held that long would
stall the worker and every writer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, Field

from api.deps import current_principal
from engine.assist import service as assist
from engine.db import unit_of_work

router = APIRouter(prefix="/api/v1/cases", tags=["assist"])
WORKERS = ("csr", "supervisor")


class DraftOut(BaseModel):
    draft: str = Field(description="a reply for the CSR to edit and send; never sent by Sift")
    summary: str
    model: str
    redacted: int = Field(description="distinct personal data values replaced before sending")


@router.post("/{case_id}/draft", response_model=DraftOut)
def draft_reply(
    request: Request,
    case_id: Annotated[str, Path(min_length=1, max_length=32)],
    authorization: Annotated[str | None, Header()] = None,
) -> DraftOut:
    """A draft reply and summary from the configured OpenAI-compatible endpoint, grounded in the
    case's conversation and customer panel, with personal data redacted before it leaves."""
    with unit_of_work() as session:
        caller = current_principal(request, session, authorization)
        caller.require(*WORKERS)
        prompt = assist.context(session, case_id)
    answer = assist.ask(prompt)
    with unit_of_work() as session:
        assist.record(session, case_id, caller.name, answer)
    return DraftOut(draft=answer.draft, summary=answer.summary, model=answer.model, redacted=answer.redacted)
