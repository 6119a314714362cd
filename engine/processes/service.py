"""Process and decision definitions: versions stored once, compiled once per process.

A version's XML is stored as uploaded; its compiled form is cached in memory
by (key, version), so running instances never carry their spec.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.db import utcnow
from engine.errors import Conflict, EngineError, NotFound
from engine.events import service as events
from engine.events.models import ActivityEvent
from engine.processes import diff as diffs
from engine.processes.models import DEPLOYED, DRAFT, ProcessDefinition, ProcessVersion

# the repository's processes/ folder, which the wheel carries as this package (see setup.py)
SHIPPED_DIR = files("engine.processes.shipped")

_cache: dict[tuple[str, int, str, tuple[tuple[str, int], ...]], Any] = {}
_cache_lock = threading.Lock()
_DEPLOYED_MEMO = "sift.deployed_versions"


class ShippedDefinitionBroken(EngineError):
    status = 500

    def __init__(self, path: Traversable, err: EngineError) -> None:
        problems = "; ".join(f.get("message", "") for f in (err.fields or [])) or err.detail
        super().__init__(f"The shipped definition {path.name} is invalid: {problems}", fields=err.fields)


class CalledProcessNotDeployed(Conflict):
    def __init__(self, key: str, number: int, missing: list[str]) -> None:
        names = ", ".join(repr(k) for k in missing)
        super().__init__(
            f"Version {number} of {key!r} calls {names}, which nothing deployed defines; deploy "
            f"{'it' if len(missing) == 1 else 'them'} first, then deploy this version."
        )


class KindMismatch(Conflict):
    def __init__(self, key: str, stored: str, uploaded: str) -> None:
        super().__init__(
            f"The key {key!r} is a {stored.upper()} definition; a {uploaded.upper()} file cannot be a "
            f"version of it. Give the {'decision' if uploaded == 'dmn' else 'process'} another id."
        )


def add_version(
    session: Session, data: bytes, *, filename: str = "", actor: str | None = None
) -> ProcessVersion:
    """Validates ``data`` and stores it as the next draft version of its key (see ``upload``)."""
    return upload(session, data, filename=filename, actor=actor)[0]


def upload(
    session: Session, data: bytes, *, filename: str = "", actor: str | None = None
) -> tuple[ProcessVersion, bool]:
    """Validates ``data`` and stores it as the next draft version of its key; returns it and
    whether it is new. A file byte-identical to a stored version of its key returns that version.

    Validation happens before anything is written: an invalid file leaves no trace but the error.
    """
    parsed = runtime.parse_definition(data, filename, resolve=deployed_xml(session))
    definition = session.get(ProcessDefinition, parsed.key, with_for_update=True)
    if definition is None:
        definition = ProcessDefinition(key=parsed.key, kind=parsed.kind)
        session.add(definition)
        session.flush()
    elif definition.kind != parsed.kind:
        raise KindMismatch(parsed.key, definition.kind, parsed.kind)
    sha256 = hashlib.sha256(data).hexdigest()
    same = session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.key == parsed.key, ProcessVersion.sha256 == sha256)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if same is not None and bytes(same.xml) == data:
        return same, False
    last = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.key == parsed.key))
    version = ProcessVersion(
        key=parsed.key,
        version=(last or 0) + 1,
        kind=parsed.kind,
        name=parsed.name,
        status=DRAFT,
        xml=data,
        sha256=sha256,
        forms=parsed.forms,
        summary={**parsed.summary, "warnings": [w.as_field() for w in parsed.warnings]},
        uploaded_by=actor,
    )
    session.add(version)
    session.flush()
    events.record(
        session,
        "process.uploaded",
        actor=actor,
        data={"key": version.key, "version": version.version, "kind": version.kind, "sha256": sha256},
    )
    return version, True


def check(session: Session, data: bytes, filename: str = "") -> dict[str, Any]:
    """What an upload of ``data`` would say, without storing anything: the key and kind, and
    every problem (each naming its element) or the warnings of a valid file."""
    try:
        parsed = runtime.parse_definition(data, filename, resolve=deployed_xml(session))
    except runtime.DefinitionInvalid as err:
        return {"valid": False, "key": None, "kind": None, "problems": err.fields or [], "warnings": []}
    return {
        "valid": True,
        "key": parsed.key,
        "kind": parsed.kind,
        "problems": [],
        "warnings": [w.as_field() for w in parsed.warnings],
    }


def deploy(session: Session, key: str, number: int, *, actor: str | None = None) -> ProcessVersion:
    """Makes ``number`` the version new work starts on (an earlier number is a rollback).

    Running instances keep the version they started on. Deploying the deployed version changes
    nothing and records nothing.
    """
    definition = session.get(ProcessDefinition, key, with_for_update=True)
    if definition is None:
        raise NotFound("process", key)
    version = get_version(session, key, number)
    previous = definition.deployed_version
    if previous == number:
        return version
    if (version.summary or {}).get("calls"):  # what it calls must be deployed now, and still fit it
        parsed = runtime.parse_definition(bytes(version.xml), resolve=deployed_xml(session))
        if parsed.missing_calls:
            raise CalledProcessNotDeployed(key, number, parsed.missing_calls)
    if previous is not None and previous != number:
        old = get_version(session, key, previous)
        old.status = DRAFT
    definition.deployed_version = number
    session.info.get(_DEPLOYED_MEMO, {}).pop(key, None)
    version.status = DEPLOYED
    version.deployed_at = utcnow()
    version.deployed_by = actor
    events.record(
        session,
        "process.deployed",
        actor=actor,
        data={"key": key, "version": number, "previous_version": previous},
    )
    return version


def get_version(session: Session, key: str, number: int) -> ProcessVersion:
    version = session.scalar(
        select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == number)
    )
    if version is None:
        raise NotFound("process version", f"{key}/{number}")
    return version


def deployed(session: Session, key: str) -> ProcessVersion:
    """The version new work of ``key`` starts on; looked up once per transaction (a worker
    batch routes and starts hundreds of signals against the same versions)."""
    memo: dict[str, ProcessVersion] = session.info.setdefault(_DEPLOYED_MEMO, {})
    found = memo.get(key)
    if found is not None:
        return found
    definition = session.get(ProcessDefinition, key)
    if definition is None or definition.deployed_version is None:
        raise NotFound("deployed process", key)
    found = memo[key] = get_version(session, key, definition.deployed_version)
    return found


def changes(session: Session, key: str, number: int, against: int | None = None) -> dict[str, Any]:
    """What version ``number`` changes against ``against`` (default: the deployed version)."""
    version = get_version(session, key, number)
    definition = session.get(ProcessDefinition, key)
    base_number = against if against is not None else definition.deployed_version if definition else None
    base = get_version(session, key, base_number) if base_number is not None else None
    found = diffs.diff(bytes(base.xml) if base else None, bytes(version.xml))
    return {"key": key, "version": number, "against": base_number, **found}


def audit(session: Session, key: str, limit: int = 200) -> list[ActivityEvent]:
    """Uploads and deploys of ``key``, newest first."""
    get_definition(session, key)
    events.write_pending(session)
    stmt = (
        select(ActivityEvent)
        .where(
            ActivityEvent.case_id.is_(None), ActivityEvent.type.in_(("process.uploaded", "process.deployed"))
        )
        .order_by(ActivityEvent.seq.desc())
    )
    found = [e for e in session.scalars(stmt) if (e.data or {}).get("key") == key]
    return found[:limit]


def get_definition(session: Session, key: str) -> ProcessDefinition:
    definition = session.get(ProcessDefinition, key)
    if definition is None:
        raise NotFound("process definition", key)
    return definition


def list_definitions(session: Session) -> list[tuple[ProcessDefinition, list[ProcessVersion]]]:
    definitions = list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)))
    versions = session.scalars(select(ProcessVersion).order_by(ProcessVersion.key, ProcessVersion.version))
    by_key: dict[str, list[ProcessVersion]] = {}
    for v in versions:
        by_key.setdefault(v.key, []).append(v)
    return [(d, by_key.get(d.key, [])) for d in definitions]


def deployed_xml(session: Session) -> Callable[[str], bytes | None]:
    """Looks up the file of a BPMN key's deployed version (what a call activity calls)."""

    def resolve(key: str) -> bytes | None:
        definition = session.get(ProcessDefinition, key)
        if definition is None or definition.kind != "bpmn" or definition.deployed_version is None:
            return None
        return bytes(get_version(session, key, definition.deployed_version).xml)

    return resolve


def pins(session: Session, version: ProcessVersion) -> dict[str, int]:
    """The deployed version of every process ``version`` calls, directly or through the
    processes it calls: what an instance starting now runs for its call activities."""
    found: dict[str, int] = {}
    queue = list((version.summary or {}).get("calls", []))
    while queue:
        key = queue.pop(0)
        if key in found or key == version.key:
            continue
        called = deployed(session, key)
        found[key] = called.version
        queue.extend((called.summary or {}).get("calls", []))
    return found


def compiled(
    version: ProcessVersion, called: dict[str, int] | None = None, *, session: Session | None = None
) -> Any:
    """The compiled process or decision of a version, parsed once per process and per
    versions of the processes it calls (``called``: key -> version, read with ``session``)."""
    pinned = tuple(sorted((called or {}).items()))
    cache_key = (version.key, version.version, version.sha256, pinned)
    found = _cache.get(cache_key)
    if found is not None:
        return found
    files_called = {}
    if pinned:
        if session is None:
            raise TypeError("compiled() needs the session to read the called versions")
        files_called = {key: bytes(get_version(session, key, number).xml) for key, number in pinned}
    with _cache_lock:
        found = _cache.get(cache_key)
        if found is None:
            xml = bytes(version.xml)
            if version.kind == "bpmn":
                found = runtime.compile_process(xml, files_called)
            else:
                found = runtime.compile_decision(xml)
            _cache[cache_key] = found
    return found


def clear_cache() -> None:
    """Forget compiled definitions (another database in the same process, tests)."""
    with _cache_lock:
        _cache.clear()


def ensure_shipped(session: Session, directory: Traversable = SHIPPED_DIR) -> list[ProcessVersion]:
    """Loads each shipped file as version 1 (deployed) of its key when the key is new.

    A broken shipped file stops start-up with the problem named.
    """
    loaded: list[ProcessVersion] = []
    shipped = (path for path in directory.iterdir() if path.name.endswith((".bpmn", ".dmn")))
    for path in sorted(shipped, key=lambda path: path.name):
        data = path.read_bytes()
        try:
            parsed = runtime.parse_definition(data, path.name, resolve=deployed_xml(session))
        except EngineError as err:
            raise ShippedDefinitionBroken(path, err) from err
        if session.get(ProcessDefinition, parsed.key) is not None:
            continue
        version = add_version(session, data, filename=path.name, actor="system")
        loaded.append(deploy(session, version.key, version.version, actor="system"))
    return loaded
