"""Process owners upload, inspect, compare and deploy BPMN/DMN definitions.

Everything uploaded is untrusted: the body is read with a hard size limit before any multipart
parsing, and the file is validated (engine.runtime) before anything is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as FastApiPath
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import Caller, DbSession
from api.processes.schemas import (
    AuditList,
    DefinitionList,
    DefinitionOut,
    UploadOut,
    VersionDetail,
    VersionOut,
    audit_entry,
    upload_out,
    version_detail,
    version_out,
)
from engine import nlp
from engine.changes import service as changes
from engine.errors import Conflict, InvalidInput, PayloadTooLarge
from engine.processes import drafts
from engine.processes import service as definitions
from engine.routing import service as routing
from engine.worker import pipeline

MAX_VERSION = 2**31 - 1
VersionNumber = Annotated[int, FastApiPath(ge=1, le=MAX_VERSION, description="version number, from 1")]

router = APIRouter(prefix="/api/v1/processes", tags=["processes"])
MAX_FILE_BYTES = 2 * 1024 * 1024
#: room for the multipart envelope around the file
MAX_BODY_BYTES = MAX_FILE_BYTES + 64 * 1024
READERS = ("process_owner", "supervisor", "csr")

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.get("", response_model=DefinitionList)
def list_processes(caller: Caller, session: DbSession) -> DefinitionList:
    caller.require(*READERS)
    return DefinitionList(
        items=[
            DefinitionOut(
                key=d.key,
                kind=d.kind,
                deployed_version=d.deployed_version,
                versions=[version_out(v) for v in versions],
            )
            for d, versions in definitions.list_definitions(session)
        ]
    )


@router.post(
    "",
    status_code=201,
    response_model=UploadOut,
    openapi_extra=_UPLOAD_BODY,
    responses={200: {"description": "byte-identical to a stored version, which is returned"}},
)
async def upload(
    caller: Caller,
    session: DbSession,
    request: Request,
    response: Response,
    discard_draft: Annotated[bool, Query(description="remove the key's work-in-progress draft")] = False,
) -> UploadOut:
    """A BPMN or DMN file (multipart ``file``) becomes the next draft version of its key.

    422 lists every problem found; 413 over the size limit; 400 for DTDs/entities; 409 when the
    key belongs to the other kind. A byte-identical re-upload answers 200 with the stored version.
    With ``discard_draft`` the key's work-in-progress draft goes in the same transaction.
    """
    caller.require("process_owner")
    data, filename = await _read_file(request)
    out = await run_in_threadpool(_store, session, data, filename, caller.name, discard_draft)
    if not out.created:
        response.status_code = 200
    return out


async def _read_file(request: Request) -> tuple[bytes, str]:
    """The uploaded file's bytes, refusing bodies over the limit before parsing the multipart."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            field = {"field": "file", "message": "a BPMN or DMN file is required as multipart field 'file'"}
            raise InvalidInput(
                "Send the definition as a multipart/form-data file field named 'file'.", fields=[field]
            )
        data = await part.read(MAX_FILE_BYTES + 1)
        filename = (part.filename or "")[:200]
    finally:
        await form.close()
    if len(data) > MAX_FILE_BYTES:
        raise _too_large()
    if not data.strip():
        raise InvalidInput(
            "The file is empty; upload a BPMN or DMN XML file.",
            fields=[{"field": "file", "message": "empty"}],
        )
    return data, filename


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; definitions are far smaller. "
        "Remove embedded data (images, large documentation) and upload again."
    )


def _store(
    session: Session, data: bytes, filename: str, actor: str, discard_draft: bool = False
) -> UploadOut:
    try:
        version, created = definitions.upload(session, data, filename=filename, actor=actor)
        # the unique (key, version) is checked here, so a concurrent upload is a 409, not a 500
        session.flush()
    except IntegrityError:
        raise Conflict(
            "Another upload of the same key was stored at the same moment; upload again."
        ) from None
    discarded = drafts.discard_if_any(session, version.key) if discard_draft else False
    return upload_out(version, created, draft_discarded=discarded)


@router.post(":validate", openapi_extra=_UPLOAD_BODY)
async def validate(caller: Caller, session: DbSession, request: Request) -> dict[str, Any]:
    """Checks a file as an upload would, storing nothing: ``{"valid", "key", "kind",
    "problems", "warnings"}``, each problem naming its element (the modeler marks them)."""
    caller.require("process_owner")
    data, filename = await _read_file(request)
    return await run_in_threadpool(definitions.check, session, data, filename)


class RoutingTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    xml: str | None = Field(default=None, max_length=MAX_FILE_BYTES, description="a draft routing table")
    signal_id: str | None = Field(default=None, max_length=32, description="a stored, enriched signal")
    text: str | None = Field(default=None, max_length=10_000, description="a pasted mention, enriched here")
    source: str = Field(default="twitter", max_length=64)
    context: dict[str, Any] | None = Field(default=None, description="the routing inputs themselves")


@router.post("/routing:test")
def routing_test(body: RoutingTestIn, caller: Caller, session: DbSession) -> dict[str, Any]:
    """Which rule fires for one signal with the deployed routing table and with a draft one."""
    caller.require("process_owner")
    given = [name for name in ("signal_id", "text", "context") if getattr(body, name) is not None]
    if len(given) != 1:
        raise InvalidInput(
            "Give exactly one of signal_id (a stored signal), text (a pasted mention) or context.",
            fields=[{"field": "signal_id", "message": "give one of signal_id, text, context"}],
        )
    if body.signal_id is not None:
        context = pipeline.routing_context_of(session, body.signal_id)
    elif body.text is not None:
        context = routing.context_for(
            nlp.enrich(body.text), source=body.source, influence=0.0, value_tier=None
        )
    else:
        context = routing.context_for({}, source=body.source, influence=0.0, value_tier=None) | (
            body.context or {}
        )
    draft = body.xml.encode("utf-8") if body.xml is not None else None
    return routing.compare(session, context, draft)


@router.get("/{key}/audit", response_model=AuditList)
def audit(key: str, caller: Caller, session: DbSession) -> AuditList:
    """Who uploaded and deployed which version of ``key``, and when; newest first."""
    caller.require(*READERS)
    return AuditList(items=[audit_entry(e) for e in definitions.audit(session, key)])


@router.get("/{key}/versions/{number}", response_model=VersionDetail)
def get_version(key: str, number: VersionNumber, caller: Caller, session: DbSession) -> VersionDetail:
    """Metadata, warnings, forms, audit entries and what it changes against the deployed version."""
    caller.require(*READERS)
    version = definitions.get_version(session, key, number)
    changes = definitions.changes(session, key, number)
    return version_detail(version, changes, definitions.audit(session, key))


@router.get("/{key}/versions/{number}/diff")
def get_diff(
    key: str,
    number: VersionNumber,
    caller: Caller,
    session: DbSession,
    against: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """Elements added, removed and changed, forms and timers changed, against ``against``
    (default: the deployed version): what a deploy of this version would do."""
    caller.require(*READERS)
    return definitions.changes(session, key, number, against)


@router.get("/{key}/versions/{number}/xml")
def get_xml(key: str, number: VersionNumber, caller: Caller, session: DbSession) -> Response:
    """The file exactly as uploaded."""
    caller.require(*READERS)
    version = definitions.get_version(session, key, number)
    suffix = "dmn" if version.kind == "dmn" else "bpmn"
    headers = {"Content-Disposition": f'attachment; filename="{key}.v{number}.{suffix}"'}
    return Response(content=bytes(version.xml), media_type="application/xml", headers=headers)


@router.post("/{key}/versions/{number}/deploy", response_model=VersionOut)
def deploy(key: str, number: VersionNumber, caller: Caller, session: DbSession) -> VersionOut:
    """New cases (or routed signals) use this version from now on; an earlier one is a rollback."""
    caller.require("process_owner")
    deployed = definitions.deploy(session, key, number, actor=caller.name)
    changes.on_deployed(session, key, number, actor=caller.name)  # approved change requests complete
    return version_out(deployed)
