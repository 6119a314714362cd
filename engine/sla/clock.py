"""SLA arithmetic on plain values: due times, warning times and the state of a clock.

The case owns the columns (``sla_due_at``, ``sla_warning_at``, ``sla_state``); this module
decides what goes in them, so "where is a breach decided?" has one answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.sla.policies import Policy, parse_duration


@dataclass(frozen=True)
class Clock:
    """Due times of a new case; ``due`` and ``warning`` are those of the nearest open target."""

    first_response_due: datetime
    resolution_due: datetime
    due: datetime
    warning: datetime


def start(policy: Policy, priority: str, opened_at: datetime) -> Clock:
    """The clock of a case opened at ``opened_at``: first response is the nearest target."""
    targets = policy.targets_for(priority)
    first = opened_at + parse_duration(targets["first_response"])
    resolution = opened_at + parse_duration(targets["resolution"])
    return Clock(first, resolution, first, warning_time(opened_at, first, policy.warning_at))


def warning_time(since: datetime, due: datetime, share: float) -> datetime:
    """When ``share`` of the time from ``since`` to ``due`` has passed."""
    return since + (due - since) * share


def state(
    *,
    due: datetime | None,
    warning: datetime | None,
    now: datetime,
    paused: bool,
) -> str:
    """on_track | at_risk | breached | paused for a running clock."""
    if paused:
        return "paused"
    if due is not None and now > due:
        return "breached"
    if warning is not None and now >= warning:
        return "at_risk"
    return "on_track"


def final_state(due: datetime | None, done_at: datetime) -> str:
    """met | breached for a clock that stopped at ``done_at`` (the case was resolved)."""
    return "met" if due is None or done_at <= due else "breached"
