"""A case's SLA clocks, and the timers that make them fire.

Three targets can run, each with a warning and a breach timer, and after the breach the
target's passed deadlines (``sla.passed``, one per repetition, their keys carrying the count):
- ``first_response`` from the opening until the first reply;
- ``next_response`` from a customer message that follows one of our replies, until the next
  reply (each owed reply is its own cycle);
- ``resolution`` from the opening until the case is resolved, paused while the case waits on
  the customer: the paused working time is added to its due time when the clock resumes;
- ``stage:<task name>`` for each stage the policy names for the case's priority, from when a
  user task of that name opens for the case until it ends (completed or cancelled). Its start
  and due time sit in the case's ``sla_stages`` (set by :func:`track_stages`, which the case's
  one ``advance`` path calls), so reading the clocks needs no query.

The case's columns say when each target falls due; the timers fire at those times and store
the outcome in ``sla_state`` (``engine/cases/escalation.py``), which is never re-derived on
read. ``sla_due_at``, ``sla_warning_at`` and ``sla_target`` name the nearest running target.
Every change to the clocks goes through :func:`arm`, which keeps at most two pending SLA timers
per case: the next warning (or breach, or passed deadline) of the running clocks that has not
fired yet, and with a warning its clock's breach. A breach's firing arms what comes after it; a
warning's has nothing to do (fewer rows for every new case than a pair per clock, and no work in
the most frequent firing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import transitions
from engine.cases.models import Case
from engine.db import utcnow
from engine.sla import clock, policies
from engine.sla.calendar import add_working_time, working_time_between
from engine.timers import service as timers
from engine.timers.models import FIRED, Timer

WARNING, BREACH, PASSED = "sla.warning", "sla.breach", "sla.passed"
KINDS = (WARNING, BREACH, PASSED)
FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
STAGE = policies.STAGE


@dataclass(frozen=True)
class Running:
    target: str
    since: datetime
    due: datetime


def running(case: Case) -> list[Running]:
    """The targets whose clock runs now, nearest due first."""
    found: list[Running] = []
    if case.status in (transitions.RESOLVED, transitions.CLOSED):
        return found
    if case.first_response_at is None and case.first_response_due_at is not None:
        found.append(Running(FIRST_RESPONSE, case.created_at, case.first_response_due_at))
    if case.next_response_due_at is not None and case.next_response_since is not None:
        found.append(Running(NEXT_RESPONSE, case.next_response_since, case.next_response_due_at))
    if not case.sla_paused and case.resolution_due_at is not None:
        found.append(Running(RESOLUTION, case.created_at, case.resolution_due_at))
    for target, stage in (case.sla_stages or {}).items():
        found.append(
            Running(target, datetime.fromisoformat(stage["since"]), datetime.fromisoformat(stage["due"]))
        )
    return sorted(found, key=lambda r: r.due)


def key(case_id: str, target: str, kind: str, due: datetime) -> str:
    return f"{kind}:{case_id}:{target}:{due.isoformat()}"


def passed_key(case_id: str, target: str, due: datetime, count: int) -> str:
    """The ``count``-th passed deadline of the target that fell due at ``due``."""
    return f"{key(case_id, target, PASSED, due)}:{count}"


def arm(session: Session, case: Case, *, new: bool = False, firing: str | None = None) -> None:
    """Schedules the next warning, breach or passed deadline of the running clocks that has not
    fired yet and drops the case's other pending SLA timers; sets the case's nearest due time.
    ``new``: the case was just opened, so it has no timers yet; ``firing``: the key of the timer
    firing now, which counts as fired. A target's passed deadlines are counted only once its
    breach has fired, so a case that is not late pays nothing for them."""
    policy = policies.get(session, case.sla_policy)
    events: list[tuple[datetime, str, str, dict[str, Any]]] = []
    clocks = running(case)
    for run in clocks:
        share = clock.goal_share(policy, policy.target(case.priority, run.target))
        warning = clock.warning_time(run.since, run.due, share, policy.resolved_calendar)
        data = {"target": run.target, "due": run.due.isoformat()}
        events.append((warning, WARNING, key(case.id, run.target, WARNING, run.due), data))
        events.append((run.due, BREACH, key(case.id, run.target, BREACH, run.due), data))
    if clocks:  # with no clock running (paused, replied) the last due time stays, for sorting
        case.sla_target, case.sla_due_at = clocks[0].target, clocks[0].due
        case.sla_warning_at = next(at for at, kind, _, data in events if data["target"] == clocks[0].target)
    else:
        case.sla_target = None
    if firing is not None and _arm_next_after(session, case, policy, clocks, events, firing):
        return
    done = {firing} if firing else set()
    if events and not new:
        done |= _fired(session, [k for _, _, k, _ in events])
        passed = [
            e
            for run in clocks
            if key(case.id, run.target, BREACH, run.due) in done
            for e in _passed(policy, case, run)
        ]
        if passed:
            done |= _fired(session, [k for _, _, k, _ in passed])
            events += passed
    upcoming = _next_group(sorted((e for e in events if e[2] not in done), key=lambda e: (e[0], e[2])))
    if new:
        timers.add_new(
            session,
            [
                {"kind": k, "key": key_, "due_at": at, "case_id": case.id, "data": d}
                for at, k, key_, d in upcoming
            ],
        )
        return
    keep = {e[2] for e in upcoming} | ({firing} if firing else set())  # the firing one settles itself
    timers.cancel(session, case_id=case.id, kinds=KINDS, keep=keep)
    for at, kind, key_, data in upcoming:
        timers.schedule(session, kind, key_, at, case_id=case.id, data=data)


def _fired(session: Session, keys: list[str]) -> set[str]:
    return set(session.scalars(select(Timer.key).where(Timer.key.in_(keys), Timer.status == FIRED)))


def _passed(
    policy: policies.Policy, case: Case, run: Running
) -> list[tuple[datetime, str, str, dict[str, Any]]]:
    """The passed deadlines of a breached target, each with its count."""
    target = policy.target(case.priority, run.target)
    return [
        (
            at,
            PASSED,
            passed_key(case.id, run.target, run.due, n),
            {"target": run.target, "due": run.due.isoformat(), "count": n},
        )
        for n, at in enumerate(clock.passed_deadlines(policy, target, run.due), start=1)
    ]


def _arm_next_after(
    session: Session,
    case: Case,
    policy: policies.Policy,
    clocks: list[Running],
    events: list[tuple[datetime, str, str, dict[str, Any]]],
    firing: str,
) -> bool:
    """The firing path, without queries: SLA events fire in time order and only one is pending
    at a time, so every event up to the firing one has fired and the next in order is the one
    to schedule (a passed deadline comes after its own breach by construction). False when the
    firing key is not among this case's events (its clock moved): the caller looks it up."""
    candidates = events + [e for run in clocks for e in _passed(policy, case, run)]
    order = sorted(candidates, key=lambda e: (e[0], e[2]))
    keys = [e[2] for e in order]
    if firing not in keys:
        return False
    fired = order[keys.index(firing)]
    for at, kind, key_, data in _next_group(order[keys.index(firing) + 1 :]):
        if fired[1] == WARNING and kind == BREACH and data == fired[3]:
            continue  # armed with its warning, so pending already
        timers.upsert(session, kind, key_, at, case_id=case.id, data=data)
    return True


def _next_group(
    upcoming: list[tuple[datetime, str, str, dict[str, Any]]],
) -> list[tuple[datetime, str, str, dict[str, Any]]]:
    """What to keep pending from the case's upcoming SLA events (in time order): the next one,
    and with a warning its clock's breach, so a warning's firing has nothing to arm."""
    if not upcoming:
        return []
    first = upcoming[0]
    if first[1] != WARNING:
        return [first]
    return [first, *[e for e in upcoming[1:] if e[1] == BREACH and e[3] == first[3]][:1]]


def is_running(case: Case, target: str, due: datetime) -> bool:
    """Whether ``target`` still runs with the due time a timer was armed for."""
    return any(r.target == target and r.due == due for r in running(case))


def refresh_state(session: Session, case: Case) -> None:
    """The state after a clock stopped or moved: the worst outcome the timers of the running
    targets have stored (breached, then at_risk), else on_track."""
    keys = {key(case.id, r.target, kind, r.due): kind for r in running(case) for kind in (WARNING, BREACH)}
    fired = (
        set(session.scalars(select(Timer.kind).where(Timer.key.in_(keys), Timer.status == FIRED)))
        if keys
        else set()
    )
    case.sla_state = "breached" if BREACH in fired else "at_risk" if WARNING in fired else "on_track"


def track_stages(
    session: Session, case: Case, open_tasks: Callable[[], dict[str, str]], at: datetime | None = None
) -> None:
    """Starts the clock of each stage whose task opened and stops the clock of each stage whose
    task ended; ``open_tasks`` gives the case's open user tasks (id to name) after the change.
    A case whose policy names no stage and has no stage clock running pays nothing."""
    policy = policies.get(session, case.sla_policy)
    targets = policy.stages(case.priority)
    current: dict[str, Any] = case.sla_stages or {}
    if not targets and not current:
        return
    at = at or utcnow()
    tasks = open_tasks()
    kept: dict[str, Any] = {}
    for target, stage in current.items():  # a running stage runs until its own task ends
        if stage["task"] in tasks:
            kept[target] = stage
    for target in targets:
        if target in kept:
            continue
        name = target[len(STAGE) :]
        opened = sorted(task_id for task_id, task_name in tasks.items() if task_name == name)
        if opened:
            due = clock.due_for(policy, case.priority, target, at).due
            kept[target] = {"task": opened[0], "since": at.isoformat(), "due": due.isoformat()}
    if kept == current:
        return
    ended = any(target not in kept for target in current)
    case.sla_stages = kept or None  # a new dict, so the JSON column is written
    arm(session, case)
    if ended:
        refresh_state(session, case)


def replied(session: Session, case: Case, at: datetime | None = None) -> None:
    """A reply went out: the first response (or the owed next response) is met."""
    at = at or utcnow()
    if case.first_response_at is None:
        case.first_response_at = at
    elif case.next_response_due_at is not None:
        case.next_response_due_at = case.next_response_since = None
    else:
        return
    case.last_reply_at = at
    arm(session, case)
    refresh_state(session, case)


def customer_message(session: Session, case: Case, at: datetime | None = None) -> None:
    """The customer wrote again (the short tail's correlation calls this): a paused resolution
    clock resumes, and if we had replied and owe no reply yet, the next-response clock starts."""
    at = at or utcnow()
    if case.status in (transitions.RESOLVED, transitions.CLOSED):
        return
    if case.sla_paused:
        _resume(session, case, at)
    if case.last_reply_at is not None and case.next_response_due_at is None:
        policy = policies.get(session, case.sla_policy)
        case.next_response_since = at
        case.next_response_due_at = clock.due_for(policy, case.priority, NEXT_RESPONSE, at).due
    arm(session, case)
    refresh_state(session, case)


def pause(session: Session, case: Case, at: datetime | None = None) -> None:
    """The case waits on the customer: the resolution clock stops counting."""
    if case.sla_paused:
        return
    case.sla_paused, case.sla_paused_at = True, at or utcnow()
    arm(session, case)


def resume(session: Session, case: Case, at: datetime | None = None) -> None:
    """The case is worked again (not only through a customer message)."""
    if case.sla_paused:
        _resume(session, case, at or utcnow())
        arm(session, case)
        refresh_state(session, case)


def _resume(session: Session, case: Case, at: datetime) -> None:
    """Adds the paused working time to the resolution due time and records the paused time."""
    paused_at = case.sla_paused_at or at
    if case.resolution_due_at is not None:
        calendar = policies.get(session, case.sla_policy).resolved_calendar
        left = (
            working_time_between(calendar, paused_at, case.resolution_due_at)
            if case.resolution_due_at > paused_at
            else None
        )
        if left is not None:  # a breach before the pause stays a breach: its due time does not move
            case.resolution_due_at = add_working_time(calendar, at, left)
    case.sla_paused_seconds = (case.sla_paused_seconds or 0.0) + max(0.0, (at - paused_at).total_seconds())
    case.sla_paused, case.sla_paused_at = False, None


def stop(session: Session, case: Case) -> None:
    """The case is done: every clock stops; the final state is breached if any target breached."""
    timers.cancel(session, case_id=case.id, kinds=KINDS)
    breached = session.scalar(
        select(Timer.id).where(Timer.case_id == case.id, Timer.kind == BREACH, Timer.status == FIRED).limit(1)
    )
    late = (
        case.resolution_due_at is not None
        and case.resolved_at is not None
        and case.resolved_at > case.resolution_due_at
    )
    case.sla_state = "breached" if breached or late else "met"
    case.sla_target = None
