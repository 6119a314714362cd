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

_compiled_by_number: dict[tuple[str, int], Any] = {}


def compiled_for(session: Session, key: str, number: int) -> Any:
    found = _compiled_by_number.get((key, number))
    if found is None:
        found = definitions.compiled(definitions.get_version(session, key, number))
        _compiled_by_number[(key, number)] = found
    return found


def clear_cache() -> None:
    _compiled_by_number.clear()


def start(session: Session, key: str, data: dict[str, Any]) -> tuple[ProcessInstanceRecord, Any]:
    """Starts the deployed version of ``key`` and runs it to its first wait state; the record
    is stored by :func:`save`."""
    version = definitions.deployed(session, key)
    instance = definitions.compiled(version).start(data)
    return ProcessInstanceRecord(id=new_id(), process_key=key, process_version=version.version), instance


def load(session: Session, instance_id: str) -> tuple[ProcessInstanceRecord, Any]:
    """Loads an instance for change, holding its row lock until the transaction ends."""
    stmt = select(ProcessInstanceRecord).where(ProcessInstanceRecord.id == instance_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    record = session.scalar(stmt.execution_options(populate_existing=True))
    if record is None:
        raise NotFound("process instance", instance_id)
    compiled = compiled_for(session, record.process_key, record.process_version)
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
    target = compiled_for(session, record.process_key, number)
    moved = target.adopt(instance)
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
