"""A case's SLA clock as timers: a warning and a breach for the target that is running.

The case's columns say which target runs (``sla_target``) and when it warns and breaches
(``sla_warning_at``, ``sla_due_at``); the timers fire at those times and store the outcome in
``sla_state`` (see ``engine/cases/escalation.py``), so the state is never re-derived on read.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.cases.models import Case
from engine.timers import service as timers

WARNING, BREACH = "sla.warning", "sla.breach"
FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"


def key(case_id: str, target: str, kind: str) -> str:
    return f"{kind}:{case_id}:{target}"


def arm(session: Session, case: Case, *, new: bool = False) -> None:
    """Schedules the warning and the breach of the case's running target (``new``: the case was
    just opened, so no timer of it exists yet)."""
    if case.sla_target is None or case.sla_due_at is None:
        return
    rows = [(WARNING, case.sla_warning_at), (BREACH, case.sla_due_at)]
    for kind, due in rows:
        if due is None:
            continue
        row_key = key(case.id, case.sla_target, kind)
        data = {"target": case.sla_target}
        if new:
            timers.add_new(
                session, [{"kind": kind, "key": row_key, "due_at": due, "case_id": case.id, "data": data}]
            )
        else:
            timers.schedule(session, kind, row_key, due, case_id=case.id, data=data)


def disarm(session: Session, case: Case) -> None:
    """Drops the case's pending SLA timers (the target was met, or the case is done)."""
    timers.cancel(session, case_id=case.id, kinds=(WARNING, BREACH))
