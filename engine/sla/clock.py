"""SLA arithmetic on plain values: due times, warning times and the state of a clock.

The case owns the columns (``sla_due_at``, ``sla_warning_at``, ``sla_state``); this module
decides what goes in them, so "where is a breach decided?" has one answer. Targets are working
time in the policy's calendar (``engine.sla.calendar``); the 24x7 calendar counts every second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.sla.calendar import Calendar, add_working_time, working_time_between
from engine.sla.durations import parse_parts
from engine.sla.policies import TARGET_KINDS, Policy, Target


@dataclass(frozen=True)
class Clock:
    """Due times of a new case; ``due`` and ``warning`` are those of the nearest open target."""

    first_response_due: datetime
    resolution_due: datetime
    due: datetime
    warning: datetime


@dataclass(frozen=True)
class Due:
    """One target counted from ``since``: when it falls due and when it turns at risk."""

    target: str
    working: timedelta
    due: datetime
    warning: datetime


def start(policy: Policy, priority: str, opened_at: datetime) -> Clock:
    """The clock of a case opened at ``opened_at``: first response is the nearest target."""
    first = due_for(policy, priority, "first_response", opened_at)
    resolution = due_for(policy, priority, "resolution", opened_at)
    return Clock(first.due, resolution.due, first.due, first.warning)


def due_for(policy: Policy, priority: str, kind: str, since: datetime) -> Due:
    """The ``kind`` target of ``priority`` counted in the policy's calendar from ``since``."""
    calendar = policy.resolved_calendar
    target = policy.target(priority, kind)
    working = calendar.target(*parse_parts(target.duration))
    at = add_working_time(calendar, since, working)
    share = goal_share(policy, target)
    return Due(target.duration, working, at, add_working_time(calendar, since, working * share))


def goal_share(policy: Policy, target: Target) -> float:
    """The share of the target's working time after which its goal (the warning) is passed."""
    return target.goal_at if target.goal_at is not None else policy.warning_at


def passed_deadlines(policy: Policy, target: Target, due: datetime) -> list[datetime]:
    """When each passed deadline of a target that fell due at ``due`` comes: every ``every``
    of working time after the deadline, ``times`` times (none when the target has none)."""
    if target.passed is None:
        return []
    calendar = policy.resolved_calendar
    every = calendar.target(*parse_parts(target.every))
    return [add_working_time(calendar, due, every * n) for n in range(1, target.times + 1)]


def targets(policy: Policy, priority: str, since: datetime) -> dict[str, Due]:
    """Every target of ``priority`` counted from ``since`` (the preview a supervisor checks)."""
    return {kind: due_for(policy, priority, kind, since) for kind in TARGET_KINDS}


def warning_time(since: datetime, due: datetime, share: float, calendar: Calendar) -> datetime:
    """When ``share`` of the working time from ``since`` to ``due`` has passed in ``calendar``."""
    return add_working_time(calendar, since, working_time_between(calendar, since, due) * share)


def final_state(due: datetime | None, done_at: datetime) -> str:
    """met | breached for a clock that stopped at ``done_at`` (the case was resolved)."""
    return "met" if due is None or done_at <= due else "breached"
