"""Queue settings: the strategy that hands out a queue's work and the skills its members need.

A queue exists as soon as a case or a key names it; a row here only says how it is worked
(``manual`` when there is none: nothing is assigned automatically).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InvalidInput
from engine.events import service as events
from engine.queues.models import MANUAL, STRATEGIES, Queue

NAME_MAX = 64
_ABSENT = "sift.queues.absent"  # session.info: names found to have no settings in this transaction


def get(session: Session, name: str, *, lock: bool = False) -> Queue | None:
    """The queue's settings, or None for a queue nobody configured (worked by hand). ``lock``
    holds its row until the transaction ends (PostgreSQL), so two assignments in one queue
    take their turns one after the other, and is read afresh. A name found unconfigured is
    not looked up again in the same transaction (a worker batch asks once per case).

    A row this transaction has changed and not yet written (a worker batch opens many cases
    before its one flush) was read under the lock already, and is the newest: it is returned
    as it is. Reading it afresh would discard the turns taken since, and give every case of
    the batch to the same member."""
    absent: set[str] = session.info.setdefault(_ABSENT, set())
    if name in absent:
        return None
    if lock:
        held = session.identity_map.get(session.identity_key(Queue, name))
        if held is not None and inspect(held).modified:
            return held
    pg = session.get_bind().dialect.name == "postgresql"
    queue = session.get(Queue, name, with_for_update=lock and pg, populate_existing=lock and pg)
    if queue is None:
        absent.add(name)
    return queue


def list_all(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.name)))


def put(session: Session, name: str, strategy: str, skills: list[str], *, actor: str) -> Queue:
    """Creates or replaces a queue's settings (a ``queue.updated`` event records the change)."""
    _check(name, strategy, skills)
    session.info.get(_ABSENT, set()).discard(name)
    queue = session.get(Queue, name)
    before: dict[str, Any] | None = None
    if queue is None:
        queue = Queue(name=name)
        session.add(queue)
    else:
        before = {"strategy": queue.strategy, "skills": list(queue.skills)}
    queue.strategy = strategy
    queue.skills = sorted(set(skills))
    queue.updated_at = utcnow()
    queue.updated_by = actor
    events.record(
        session,
        "queue.updated",
        actor=actor,
        data={"queue": name, "strategy": strategy, "skills": queue.skills, "before": before},
    )
    return queue


def strategy_of(queue: Queue | None) -> str:
    return queue.strategy if queue is not None else MANUAL


def _check(name: str, strategy: str, skills: list[str]) -> None:
    fields = []
    if not name.strip() or len(name) > NAME_MAX:
        fields.append({"field": "name", "message": f"must be 1 to {NAME_MAX} characters"})
    if strategy not in STRATEGIES:
        fields.append({"field": "strategy", "message": "must be one of " + ", ".join(STRATEGIES)})
    for i, skill in enumerate(skills):
        if not isinstance(skill, str) or not skill.strip():
            fields.append({"field": f"skills.{i}", "message": "must be a non-empty string"})
    if fields:
        names = ", ".join(f["field"] for f in fields)
        raise InvalidInput(f"The queue settings are invalid; fix: {names}.", fields=fields)
