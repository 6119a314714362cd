"""Loading, locking and saving process instances.

Every change to an instance goes: load (row locked on PostgreSQL; SQLite has
one writer) → restore from state + the version's cached spec → engine steps
→ save. ``lock_version`` makes a concurrent save fail instead of overwriting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import new_id, utcnow
from engine.errors import NotFound
from engine.processes import service as definitions
from engine.processes.models import ProcessInstanceRecord

_compiled_by_number: dict[tuple[str, int, tuple[tuple[str, int], ...]], Any] = {}


def compiled_for(session: Session, key: str, number: int, called: dict[str, int] | None = None) -> Any:
    """Version ``number`` of ``key`` compiled with the versions its call activities call."""
    memo = (key, number, tuple(sorted((called or {}).items())))
    found = _compiled_by_number.get(memo)
    if found is None:
        version = definitions.get_version(session, key, number)
        found = definitions.compiled(version, called, session=session)
        _compiled_by_number[memo] = found
    return found


def clear_cache() -> None:
    _compiled_by_number.clear()


def start(
    session: Session, key: str, data: dict[str, Any], number: int | None = None
) -> tuple[ProcessInstanceRecord, Any]:
    """Starts the deployed version of ``key`` (or version ``number``) and runs it to its first
    wait state; the record is stored by :func:`save`."""
    version = (
        definitions.deployed(session, key)
        if number is None
        else definitions.get_version(session, key, number)
    )
    called = definitions.pins(session, version)
    instance = definitions.compiled(version, called, session=session).start(data)
    record = ProcessInstanceRecord(
        id=new_id(), process_key=key, process_version=version.version, called_versions=called
    )
    return record, instance


def load(session: Session, instance_id: str) -> tuple[ProcessInstanceRecord, Any]:
    """Loads an instance for change, holding its row lock until the transaction ends."""
    stmt = select(ProcessInstanceRecord).where(ProcessInstanceRecord.id == instance_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    record = session.scalar(stmt.execution_options(populate_existing=True))
    if record is None:
        raise NotFound("process instance", instance_id)
    compiled = compiled_for(session, record.process_key, record.process_version, record.called_versions)
    return record, compiled.restore(record.state)


def process_key_of(session: Session, instance_id: str) -> str:
    key = session.scalar(
        select(ProcessInstanceRecord.process_key).where(ProcessInstanceRecord.id == instance_id)
    )
    if key is None:
        raise NotFound("process instance", instance_id)
    return key


def migrate(session: Session, record: ProcessInstanceRecord, instance: Any, number: int) -> Any:
    """``instance`` moved onto version ``number`` of its process (see CompiledProcess.adopt);
    the record names the new version once saved."""
    target_version = definitions.get_version(session, record.process_key, number)
    called = definitions.pins(session, target_version)
    target = compiled_for(session, record.process_key, number, called)
    moved = target.adopt(instance)
    record.called_versions = called
    record.process_version = number
    return moved


def _target(session: Session, record: ProcessInstanceRecord, number: int) -> tuple[Any, dict[str, int]]:
    target_version = definitions.get_version(session, record.process_key, number)
    called = definitions.pins(session, target_version)
    return compiled_for(session, record.process_key, number, called), called


def blockers(session: Session, record: ProcessInstanceRecord, instance: Any, number: int) -> list[Any]:
    """Why ``instance`` cannot :func:`move` to version ``number`` (CompiledProcess.migration_blockers)."""
    target, _ = _target(session, record, number)
    return list(target.migration_blockers(instance))


def move(session: Session, record: ProcessInstanceRecord, instance: Any, number: int) -> Any:
    """``instance`` moved onto version ``number`` where it stands (CompiledProcess.migrate): what
    a bulk migration does; the record names the new version once saved."""
    target, called = _target(session, record, number)
    moved = target.migrate(instance)
    record.called_versions = called
    record.process_version = number
    return moved


RUNNING, COMPLETED, INCIDENT = "running", "completed", "incident"
STATUSES = (RUNNING, INCIDENT, COMPLETED)


def save(session: Session, record: ProcessInstanceRecord, instance: Any) -> None:
    """Stores the instance's state on its record (a new record joins the session); its status
    is ``completed``, ``incident`` (a task waits for a retry) or ``running``."""
    record.state = instance.dump()
    if instance.is_completed:
        record.status = COMPLETED
    else:
        record.status = INCIDENT if instance.failed_tasks() else RUNNING
    record.updated_at = utcnow()
    session.add(record)
