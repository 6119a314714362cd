"""Request and response shapes of the process definitions API (not the ORM classes)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel

from engine.events.models import ActivityEvent
from engine.processes.models import ProcessVersion


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


class UploadOut(VersionOut):
    created: bool
    warnings: list[dict[str, Any]]
    #: the key's work-in-progress draft was removed (``discard_draft``)
    draft_discarded: bool = False


class AuditEntry(BaseModel):
    type: str
    actor: str | None
    at: AwareDatetime
    version: int | None
    previous_version: int | None = None


class VersionDetail(VersionOut):
    #: Invalid files are never stored, so a stored version has no blocking problems; warnings are
    #: what runs but may surprise (a user task without a form is completed with no data...).
    problems: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    forms: dict[str, Any]
    changes: dict[str, Any]
    audit: list[AuditEntry]


class DefinitionOut(BaseModel):
    key: str
    kind: str
    deployed_version: int | None
    versions: list[VersionOut]


class DefinitionList(BaseModel):
    items: list[DefinitionOut]


class AuditList(BaseModel):
    items: list[AuditEntry]


def version_out(v: ProcessVersion) -> VersionOut:
    return VersionOut(**_fields(v))


def _fields(v: ProcessVersion) -> dict[str, Any]:
    return {
        "key": v.key,
        "version": v.version,
        "kind": v.kind,
        "name": v.name,
        "status": v.status,
        "uploaded_by": v.uploaded_by,
        "uploaded_at": v.uploaded_at,
        "deployed_at": v.deployed_at,
        "deployed_by": v.deployed_by,
        "sha256": v.sha256,
    }


def upload_out(v: ProcessVersion, created: bool, *, draft_discarded: bool = False) -> UploadOut:
    return UploadOut(
        **_fields(v),
        created=created,
        warnings=list((v.summary or {}).get("warnings", [])),
        draft_discarded=draft_discarded,
    )


def audit_entry(e: ActivityEvent) -> AuditEntry:
    data = e.data or {}
    return AuditEntry(
        type=e.type,
        actor=e.actor,
        at=e.at,
        version=data.get("version"),
        previous_version=data.get("previous_version"),
    )


def version_detail(v: ProcessVersion, changes: dict[str, Any], audit: list[ActivityEvent]) -> VersionDetail:
    return VersionDetail(
        **_fields(v),
        problems=[],
        warnings=list((v.summary or {}).get("warnings", [])),
        forms=dict(v.forms or {}),
        changes=changes,
        audit=[audit_entry(e) for e in audit if (e.data or {}).get("version") == v.version],
    )
