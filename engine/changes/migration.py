"""Bulk migration: the running instances of one version of a process moved onto another.

A dry run reports, for every running (or incident-held) instance of ``from_version``, whether it
can move and, when not, why (it waits at or ran an element the target version does not have,
from SpiffWorkflow's workflow diff); applying it moves each movable instance through its case's
flow (``flows.Migrate``), each in its own savepoint, so one that fails stays where it was and
says why while the others move.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import flows
from engine.cases.models import Case
from engine.errors import EngineError, InvalidInput
from engine.events import service as events
from engine.processes import service as definitions
from engine.processes.models import ProcessInstanceRecord

MAX_INSTANCES = 500  # one request's share; run it again for the rest
LIVE = ("running", "incident")


def run(
    session: Session, key: str, from_version: int, to_version: int, *, apply: bool, actor: str
) -> dict[str, Any]:
    """The report of a migration of ``key`` from ``from_version`` to ``to_version``; with
    ``apply`` the movable instances are moved (see the module)."""
    if from_version == to_version:
        raise InvalidInput(
            "from_version and to_version are the same version; name the version to move onto.",
            fields=[{"field": "to_version", "message": "differs from from_version"}],
        )
    definitions.get_version(session, key, from_version)
    definitions.get_version(session, key, to_version)
    stmt = (
        select(Case, ProcessInstanceRecord)
        .join(ProcessInstanceRecord, ProcessInstanceRecord.id == Case.process_instance_id)
        .where(
            ProcessInstanceRecord.process_key == key,
            ProcessInstanceRecord.process_version == from_version,
            ProcessInstanceRecord.status.in_(LIVE),
        )
        .order_by(Case.created_at, Case.id)
        .limit(MAX_INSTANCES + 1)
    )
    found = [(case, record) for case, record in session.execute(stmt)]
    more = len(found) > MAX_INSTANCES
    movable: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []
    for case, record in found[:MAX_INSTANCES]:
        entry: dict[str, Any] = {"instance_id": record.id, "case_id": case.id, "stage": case.stage}
        reasons = flows.migration_blockers(session, case, to_version)
        if reasons:
            entry["reasons"] = [
                {"element_id": b.element_id, "reason": b.reason, "detail": b.detail} for b in reasons
            ]
            blocked.append(entry)
        elif apply:
            entry.update(_move(session, case, to_version, actor))
            (movable if entry["moved"] else blocked).append(entry)
        else:
            movable.append(entry)
    report = {
        "process_key": key,
        "from_version": from_version,
        "to_version": to_version,
        "dry_run": not apply,
        "movable": movable,
        "blocked": blocked,
        "counts": {"movable": len(movable), "blocked": len(blocked)},
        "more": more,
    }
    if apply:
        events.record(
            session,
            "process.migrated",
            actor=actor,
            data={
                "key": key,
                "from_version": from_version,
                "to_version": to_version,
                "moved": len(movable),
                "blocked": len(blocked),
            },
        )
    return report


def _move(session: Session, case: Case, version: int, actor: str) -> dict[str, Any]:
    events.write_pending(session)  # the earlier instances' events stay out of this savepoint
    try:
        with session.begin_nested():
            flows.advance(session, case, flows.Migrate(version, actor))
    except EngineError as err:
        events.pending(session).clear()
        return {"moved": False, "reasons": [{"element_id": None, "reason": err.code, "detail": err.detail}]}
    return {"moved": True, "stage": case.stage}
