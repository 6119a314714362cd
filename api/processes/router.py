from __future__ import annotations

from fastapi import APIRouter, Response, UploadFile
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import Caller
from engine.db import unit_of_work
from engine.errors import InvalidInput, PayloadTooLarge
from engine.processes import service as definitions
from engine.processes.models import ProcessVersion

router = APIRouter(prefix="/api/v1/processes", tags=["processes"])
MAX_FILE_BYTES = 2 * 1024 * 1024


class VersionOut(BaseModel):
    key: str
    version: int
    kind: str
    name: str | None
    status: str
    uploaded_by: str | None
    uploaded_at: AwareDatetime
    deployed_at: AwareDatetime | None
    deployed_by: str | None
    sha256: str


class DefinitionOut(BaseModel):
    key: str
    kind: str
    deployed_version: int | None
    versions: list[VersionOut]


class DefinitionList(BaseModel):
    items: list[DefinitionOut]


def version_out(v: ProcessVersion) -> VersionOut:
    return VersionOut(
        key=v.key,
        version=v.version,
        kind=v.kind,
        name=v.name,
        status=v.status,
        uploaded_by=v.uploaded_by,
        uploaded_at=v.uploaded_at,
        deployed_at=v.deployed_at,
        deployed_by=v.deployed_by,
        sha256=v.sha256,
    )


@router.get("", response_model=DefinitionList)
def list_processes(caller: Caller) -> DefinitionList:
    caller.require("process_owner", "supervisor", "csr")
    with unit_of_work() as session:
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


@router.post("", status_code=201, response_model=VersionOut)
async def upload(caller: Caller, file: UploadFile) -> VersionOut:
    """A BPMN or DMN file becomes the next draft version of its key (422 lists every problem)."""
    caller.require("process_owner")
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_FILE_BYTES} bytes; definitions must be smaller.")
    if not data.strip():
        raise InvalidInput("The file is empty; upload a BPMN or DMN XML file.")
    filename = file.filename or ""
    return await run_in_threadpool(_store, data, filename, caller.name)


def _store(data: bytes, filename: str, actor: str) -> VersionOut:
    with unit_of_work() as session:
        return version_out(definitions.add_version(session, data, filename=filename, actor=actor))


@router.get("/{key}/versions/{number}", response_model=VersionOut)
def get_version(key: str, number: int, caller: Caller) -> VersionOut:
    caller.require("process_owner", "supervisor", "csr")
    with unit_of_work() as session:
        return version_out(definitions.get_version(session, key, number))


@router.get("/{key}/versions/{number}/xml")
def get_xml(key: str, number: int, caller: Caller) -> Response:
    caller.require("process_owner", "supervisor", "csr")
    with unit_of_work() as session:
        version = definitions.get_version(session, key, number)
        return Response(content=bytes(version.xml), media_type="application/xml")


@router.post("/{key}/versions/{number}/deploy", response_model=VersionOut)
def deploy(key: str, number: int, caller: Caller) -> VersionOut:
    caller.require("process_owner")
    with unit_of_work() as session:
        return version_out(definitions.deploy(session, key, number, actor=caller.name))
