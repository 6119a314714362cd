"""A process owner's work-in-progress draft of a key: saved whatever its problems (the modeler's
Save draft), read back, discarded. It is never a version: saving it as one is the validated
upload (``POST /api/v1/processes?discard_draft=true``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as FastApiPath
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, DbSession
from api.processes.router import _UPLOAD_BODY, MAX_VERSION, _read_file
from engine.processes import drafts
from engine.processes import service as definitions
from engine.processes.models import ProcessDraft

router = APIRouter(prefix="/api/v1/processes", tags=["processes"])
OWNER = "process_owner"
Key = Annotated[str, FastApiPath(max_length=200)]


class DraftOut(BaseModel):
    key: str
    kind: str
    base_version: int | None
    valid: bool
    problems: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    sha256: str
    size: int
    saved_by: str
    saved_at: AwareDatetime
    created_at: AwareDatetime


def draft_out(draft: ProcessDraft, kind: str) -> DraftOut:
    return DraftOut(
        key=draft.key,
        kind=kind,
        base_version=draft.base_version,
        valid=draft.valid,
        problems=draft.problems,
        warnings=draft.warnings,
        sha256=draft.sha256,
        size=len(draft.xml),
        saved_by=draft.saved_by,
        saved_at=draft.saved_at,
        created_at=draft.created_at,
    )


@router.put("/{key}/draft", response_model=DraftOut, openapi_extra=_UPLOAD_BODY)
async def save_draft(
    key: Key,
    caller: Caller,
    session: DbSession,
    request: Request,
    base_version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    replaces: Annotated[
        str | None,
        Query(pattern="^([0-9a-f]{64}|none)$", description="the sha256 of the draft replaced, or none"),
    ] = None,
) -> DraftOut:
    """Stores the file (multipart ``file``) as ``key``'s draft, replacing the one before, with
    every problem validation finds: an invalid diagram is kept, never deployable."""
    caller.require(OWNER)
    data, filename = await _read_file(request)
    draft = await run_in_threadpool(
        drafts.save,
        session,
        key,
        data,
        filename=filename,
        base_version=base_version,
        replaces=replaces,
        actor=caller.name,
    )
    return draft_out(draft, definitions.get_definition(session, key).kind)


@router.get("/{key}/draft", response_model=DraftOut)
def get_draft(key: Key, caller: Caller, session: DbSession) -> DraftOut:
    caller.require(OWNER)
    draft = drafts.get(session, key)
    return draft_out(draft, definitions.get_definition(session, key).kind)


@router.get("/{key}/draft/xml")
def get_draft_xml(key: Key, caller: Caller, session: DbSession) -> Response:
    """The draft's file exactly as saved."""
    caller.require(OWNER)
    draft = drafts.get(session, key)
    headers = {"Content-Disposition": f'attachment; filename="{key}.draft.xml"'}
    return Response(content=bytes(draft.xml), media_type="application/xml", headers=headers)


@router.delete("/{key}/draft", status_code=204)
def discard_draft(key: Key, caller: Caller, session: DbSession) -> Response:
    caller.require(OWNER)
    drafts.discard(session, key)
    return Response(status_code=204)
