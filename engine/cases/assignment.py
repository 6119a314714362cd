"""Who gets the work: queue members, capacity, presence, strategies and the urgency of a task.

Queue membership lives on the key (``ApiKey.queues`` and ``ApiKey.skills``, set when the key is
made and by ``PATCH /agents/{name}``): a key already is the holder, its role and its skills, and
one place for membership means a revoked key leaves every queue at once. A queue's own settings
(strategy, required skills, the round-robin turn) are rows of ``engine/queues``.

A member is *eligible* for a queue's new work when the key is an active ``csr``, names the
queue, has every skill the queue requires, is not away, and holds fewer open cases (``open``
or ``waiting``) than its capacity (no capacity: no limit).

Urgency of an open task (higher first), all from its case:

    priority points      urgent 300, high 200, normal 100, low 0
  + SLA proximity        150 if the nearest due time has passed, 100 if it is within 1 h,
                         50 within 4 h, else 0 (no due time: 0)
  + case.urgency         what the SLA levels added (goal, deadline, passed deadlines)
  + customer points      round(50 * influence) + value tier (platinum 50, gold 30, silver 15),
                         fixed when the case opens

Ties go to the earliest due time, then the oldest task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from engine.auth.models import ApiKey
from engine.cases import transitions
from engine.cases.models import Case
from engine.queues import service as queues
from engine.queues.models import LEAST_LOADED, ROUND_ROBIN
from engine.tasks.models import OPEN, Task

TIER_POINTS = {"platinum": 50, "gold": 30, "silver": 15}
INFLUENCE_POINTS = 50
SLA_POINTS = ((timedelta(0), 150), (timedelta(hours=1), 100), (timedelta(hours=4), 50))
HELD_STATUSES = (transitions.OPEN, transitions.WAITING)


def customer_points(influence: float | None, value_tier: str | None) -> int:
    influence = min(max(influence or 0.0, 0.0), 1.0)
    return round(INFLUENCE_POINTS * influence) + TIER_POINTS.get((value_tier or "").lower(), 0)


def urgency(now: datetime) -> ColumnElement[int]:
    """The urgency of a case's work at ``now``, as SQL over the case's columns."""
    priority = (3 - Case.priority_rank) * 100
    sla = case(
        *[(Case.sla_due_at <= now + ahead, points) for ahead, points in SLA_POINTS],
        else_=0,
    )
    return (priority + sla + Case.urgency + Case.customer_points).label("urgency")


def loads(session: Session, names: list[str], *, besides: str | None = None) -> dict[str, int]:
    """How many open or waiting cases each holder holds (``besides``: not counting that case)."""
    if not names:
        return {}
    stmt = (
        select(Case.assignee, func.count())
        .where(Case.assignee.in_(names), Case.status.in_(HELD_STATUSES))
        .group_by(Case.assignee)
    )
    if besides is not None:
        stmt = stmt.where(Case.id != besides)
    held = {name: int(n) for name, n in session.execute(stmt)}
    return {name: held.get(name, 0) for name in names}


def has_room(key: ApiKey, load: int) -> bool:
    return key.capacity is None or load < key.capacity


def workable_queues(session: Session, key: ApiKey) -> list[str]:
    """The holder's queues whose required skills the holder has."""
    own = set(key.skills)
    result = []
    for name in key.queues:
        settings = queues.get(session, name)
        if settings is None or set(settings.skills) <= own:
            result.append(name)
    return result


def eligible(session: Session, queue_name: str, required: list[str]) -> list[tuple[ApiKey, int]]:
    """The queue's members who may be given new work now, by name, each with their load."""
    stmt = select(ApiKey).where(ApiKey.role == "csr", ApiKey.revoked_at.is_(None), ApiKey.away.is_(False))
    members = [
        k
        for k in session.scalars(stmt.order_by(ApiKey.name))
        if queue_name in k.queues and set(required) <= set(k.skills)
    ]
    held = loads(session, [k.name for k in members])
    return [(k, held[k.name]) for k in members if has_room(k, held[k.name])]


@dataclass(frozen=True)
class Choice:
    assignee: str
    strategy: str


def choose(session: Session, queue_name: str) -> Choice | None:
    """The member the queue's strategy gives its next case to, or None (a manual queue, or
    nobody eligible). Takes the queue's turn: the queue row is locked until the transaction
    ends (PostgreSQL), so concurrent assignments in one queue see each other's choices."""
    settings = queues.get(session, queue_name, lock=True)
    if settings is None or settings.strategy not in (ROUND_ROBIN, LEAST_LOADED):
        return None
    candidates = eligible(session, queue_name, list(settings.skills))
    if not candidates:
        return None
    names = sorted(k.name for k, _ in candidates)
    if settings.strategy == ROUND_ROBIN:
        chosen = _weighted_turn(settings, {k.name: k.capacity or 1 for k, _ in candidates})
    else:
        turn = _turn_order(names, settings.last_assignee)
        # the lowest (load + 1/2) / capacity; among equals, whose turn it is. The half is
        # Sainte-Lague's (Webster's) divisor, fair to small and large capacities alike: by
        # load / capacity a capacity of 2 at one case (0.5) beats a capacity of 8 at five (0.63)
        # and small capacities are kept full.
        ratio = {k.name: (load + 0.5) / k.capacity if k.capacity else float(load) for k, load in candidates}
        chosen = min(turn, key=lambda name: (ratio[name], turn.index(name)))
    settings.last_assignee = chosen
    return Choice(chosen, settings.strategy)


def _weighted_turn(settings: Any, weights: dict[str, int]) -> str:
    """Round robin weighted by capacity (stride scheduling): each member has a pass, the lowest
    pass is given the case and moves on by 1 / weight, so over time each member's share follows
    their capacity (equal turns when no capacity is set). A newcomer, or a member back from
    away, starts at most one turn behind the others, so nobody gets a burst."""
    passes = {name: float(value) for name, value in (settings.turns or {}).items()}
    known = [passes[n] for n in weights if n in passes]
    floor = max(known) - 1.0 if known else 0.0
    for name in weights:
        passes[name] = max(passes.get(name, floor), floor)
    chosen = min(weights, key=lambda name: (passes[name], name))
    passes[chosen] += 1.0 / weights[chosen]
    settings.turns = passes  # a new dict: the JSON column is written
    return chosen


def _turn_order(names: list[str], last: str | None) -> list[str]:
    """``names`` (sorted) starting after ``last``: the round-robin turn."""
    after = [n for n in names if last is None or n > last]
    return after + [n for n in names if n not in after]


NEXT_BATCH = 8  # candidates ranked per query; the first one still free is claimed


def next_candidates(session: Session, queue_names: list[str], now: datetime, *, skip: set[str]) -> list[Any]:
    """The most urgent open, unheld tasks of open cases in ``queue_names`` (not in ``skip``),
    best first, with their urgency: up to ``NEXT_BATCH`` rows of (task id, case id, urgency).

    The ranking reads only the partial indexes over unheld open cases and tasks
    (``ix_cases_unheld_open_urgency``, ``ix_tasks_unheld_open_case``), never the heap of all
    open cases. It takes no lock: a ``FOR UPDATE`` here would make PostgreSQL fetch every
    joined case row for its recheck, which is what made this query slow; :func:`lock_free`
    locks the chosen task afterwards."""
    score = urgency(now)
    stmt = (
        select(Task.id, Task.case_id, score)
        .join(Case, Case.id == Task.case_id)
        .where(
            Task.status == OPEN,
            Task.assignee.is_(None),
            Task.queue.in_(queue_names),
            Case.assignee.is_(None),
            Case.status == transitions.OPEN,
        )
        .order_by(score.desc(), Case.sla_due_at.asc().nulls_last(), Task.created_at, Task.id)
        .limit(NEXT_BATCH)
    )
    if skip:
        stmt = stmt.where(Task.id.not_in(skip))
    return list(session.execute(stmt).all())


def lock_free(session: Session, task_id: str) -> bool:
    """On PostgreSQL: locks the task row if it is still open and unheld and no other
    transaction holds it (``SKIP LOCKED``), so racing callers pass each other by instead of
    queueing on the same row. The claim itself is the conditional UPDATE of the case."""
    stmt = (
        select(Task.id)
        .where(Task.id == task_id, Task.status == OPEN, Task.assignee.is_(None))
        .with_for_update(skip_locked=True)
    )
    return session.scalar(stmt) is not None
