"""Merging one case into another (Zendesk's and Chatwoot's "merge conversations").

In the caller's transaction, so nothing is half-written if any step fails:
1. the merged case's process is ended through its flow (``flows.End``): its open tasks are
   cancelled (``task.cancelled``), its BPMN timers dropped, and the case is ``closed`` with the
   resolution ``{"code": "merged", "into": <id>}`` (``case.closed``); a case whose process had
   already ended is closed the same way;
2. its signals and its comments (with their mentions) move to the surviving case, so the
   customer's later replies and mentions land there; its timeline stays its own and is shown
   in the surviving case's timeline too;
3. ``merged_into`` points at the surviving case; cases merged into the merged one before are
   re-pointed at the surviving one, so a pointer is never a chain;
4. a ``case.merged`` event on both cases says what moved.

The surviving case must be ``open`` or ``waiting`` (a live conversation); the merged one must
not be closed. A CSR merges a case they hold or nobody holds; a supervisor any.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.cases import flows, transitions
from engine.cases import service as cases
from engine.cases.models import Case, Comment, Mention
from engine.errors import Conflict, InvalidInput
from engine.events import service as events
from engine.signals.models import Signal

MERGED = "merged"


class CannotMerge(Conflict):
    def __init__(self, case_id: str, why: str) -> None:
        super().__init__(f"Case {case_id} cannot be merged: {why}")


def merge(session: Session, case_id: str, into_id: str, who: Principal) -> Case:
    """Merges case ``case_id`` into case ``into_id`` and answers with the surviving case."""
    if case_id == into_id:
        raise InvalidInput(
            "A case cannot be merged into itself; name another case in 'into'.",
            fields=[{"field": "into", "message": "is the case being merged"}],
        )
    first, second = sorted((case_id, into_id))  # both rows locked, always in the same order
    locked = {first: cases.get(session, first, lock=True), second: cases.get(session, second, lock=True)}
    source, target = locked[case_id], locked[into_id]
    _check(source, target, who)
    resolution = {"code": MERGED, "into": target.id}
    _end(session, source, resolution, who.name)
    moved = _move(session, source, target)
    source.merged_into = target.id
    source.resolution = resolution
    for case in (source, target):
        events.record(
            session,
            "case.merged",
            case_id=case.id,
            actor=who.name,
            data={"from": source.id, "into": target.id, **moved},
        )
    return target


def _check(source: Case, target: Case, who: Principal) -> None:
    if source.status == transitions.CLOSED:
        why = f"it was merged into case {source.merged_into}" if source.merged_into else "it is closed"
        raise CannotMerge(source.id, why + ".")
    if target.status not in (transitions.OPEN, transitions.WAITING):
        where = f"merged into case {target.merged_into}" if target.merged_into else target.status
        raise CannotMerge(source.id, f"case {target.id} is {where}; merge into an open or waiting case.")
    if source.assignee is not None and source.assignee != who.name and not who.is_supervisor:
        raise cases.CaseHeld(source.id, source.assignee)


def _end(session: Session, source: Case, resolution: dict[str, Any], actor: str) -> None:
    """Ends the source's process through its flow and closes the case."""
    if source.process_instance_id is not None:
        flows.advance(session, source, flows.End(resolution, actor))
    if source.status != transitions.CLOSED:  # no process, or it had ended (a resolved case)
        cases.transition(session, source, transitions.CLOSED, actor=actor, data=resolution)


def _move(session: Session, source: Case, target: Case) -> dict[str, Any]:
    signal_ids = list(session.scalars(select(Signal.id).where(Signal.case_id == source.id)))
    comments = session.scalar(select(func.count()).select_from(Comment).where(Comment.case_id == source.id))
    earlier = list(session.scalars(select(Case.id).where(Case.merged_into == source.id)))
    for stmt in (
        update(Signal).where(Signal.case_id == source.id).values(case_id=target.id),
        update(Comment)
        .where(Comment.case_id == source.id, Comment.merged_from.is_(None))
        .values(merged_from=source.id),
        update(Comment).where(Comment.case_id == source.id).values(case_id=target.id),
        update(Mention).where(Mention.case_id == source.id).values(case_id=target.id),
        update(Case).where(Case.merged_into == source.id).values(merged_into=target.id),
    ):
        session.execute(stmt.execution_options(synchronize_session=False))
    return {"signals": signal_ids, "comments": int(comments or 0), "repointed": earlier}


def merged_into(session: Session, case_id: str) -> list[str]:
    """The cases merged into ``case_id``."""
    return list(session.scalars(select(Case.id).where(Case.merged_into == case_id).order_by(Case.id)))
