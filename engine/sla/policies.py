"""SLA policies as data: targets per priority, a calendar, a warning share.

A case takes its due times from the policy routing named when it opens; a
changed policy applies to cases opened after the change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InvalidInput, NotFound
from engine.events import service as events
from engine.sla import calendars
from engine.sla.calendar import TWENTY_FOUR_SEVEN, Calendar, OutOfReach, add_working_time
from engine.sla.durations import parse_duration, parse_parts
from engine.sla.models import SlaPolicy

DEFAULT_POLICY = "default"
_MEMO = calendars.POLICY_MEMO
PRIORITIES = ("urgent", "high", "normal", "low")
TARGET_KINDS = ("first_response", "next_response", "resolution")

DEFAULT_TARGETS: dict[str, dict[str, str]] = {
    "urgent": {"first_response": "PT15M", "next_response": "PT30M", "resolution": "PT4H"},
    "high": {"first_response": "PT1H", "next_response": "PT2H", "resolution": "PT8H"},
    "normal": {"first_response": "PT4H", "next_response": "PT8H", "resolution": "P1D"},
    "low": {"first_response": "P1D", "next_response": "P1D", "resolution": "P3D"},
}


@dataclass(frozen=True)
class Policy:
    """A policy with its calendar resolved, so the clock's arithmetic needs no session."""

    name: str
    calendar: str
    targets: dict[str, dict[str, str]]
    warning_at: float
    resolved_calendar: Calendar = field(default=TWENTY_FOUR_SEVEN, compare=False)

    def targets_for(self, priority: str) -> dict[str, str]:
        """The targets of ``priority``, falling back to normal's (a policy may leave one out)."""
        return self.targets.get(priority) or self.targets.get("normal") or DEFAULT_TARGETS["normal"]


DEFAULT = Policy(DEFAULT_POLICY, "24x7", DEFAULT_TARGETS, 0.75)


def _policy(row: SlaPolicy, calendar: Calendar = TWENTY_FOUR_SEVEN) -> Policy:
    return Policy(row.name, row.calendar, row.targets, row.warning_at, calendar)


def _loaded(session: Session, row: SlaPolicy) -> Policy:
    return _policy(row, calendars.resolve(session, row.calendar))


def ensure_default(session: Session) -> None:
    if session.get(SlaPolicy, DEFAULT_POLICY) is None:
        session.add(SlaPolicy(name=DEFAULT_POLICY, calendar="24x7", targets=DEFAULT_TARGETS, warning_at=0.75))
        session.flush()


def get(session: Session, name: str | None) -> Policy:
    """The named policy, or the default one when it does not exist (routing may name a new policy).

    Read once per transaction with its calendar: a worker batch opens many cases under the
    same policies."""
    memo: dict[str, Policy] = session.info.setdefault(_MEMO, {})
    key = name or DEFAULT_POLICY
    if key not in memo:
        row = session.get(SlaPolicy, key) or session.get(SlaPolicy, DEFAULT_POLICY)
        memo[key] = _loaded(session, row) if row is not None else DEFAULT
    return memo[key]


def list_policies(session: Session) -> list[Policy]:
    return [_loaded(session, r) for r in session.scalars(select(SlaPolicy).order_by(SlaPolicy.name))]


def put(session: Session, name: str, body: dict[str, Any], *, actor: str) -> Policy:
    """Creates or replaces a policy after checking every target; all problems are reported at once."""
    problems = validate(body)
    if not any(p["field"] == "calendar" for p in problems) and not calendars.exists(
        session, body["calendar"]
    ):
        problems.insert(0, {"field": "calendar", "message": _unknown_calendar(session)})
    if not problems:
        problems = _unreachable(calendars.resolve(session, body["calendar"]), body["targets"])
    if problems:
        names = ", ".join(p["field"] for p in problems)
        raise InvalidInput(f"The SLA policy has invalid fields: {names}.", fields=problems)
    row = session.get(SlaPolicy, name)
    if row is None:
        row = SlaPolicy(name=name)
        session.add(row)
    row.calendar = body["calendar"]
    row.targets = body["targets"]
    row.warning_at = float(body["warning_at"])
    row.updated_at = utcnow()
    row.updated_by = actor
    calendars.forget(session)
    session.flush()
    events.record(session, "sla.policy_changed", actor=actor, data={"name": name})
    return _loaded(session, row)


def _unreachable(calendar: Calendar, targets: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """Targets that would not come due within the calendar's horizon from now."""
    problems = []
    for priority, kinds in targets.items():
        for kind in TARGET_KINDS:
            try:
                add_working_time(calendar, utcnow(), calendar.target(*parse_parts(kinds[kind])))
            except OutOfReach as err:
                problems.append({"field": f"targets.{priority}.{kind}", "message": err.detail})
    return problems


def _unknown_calendar(session: Session) -> str:
    names = ", ".join(c["name"] for c in calendars.list_calendars(session))
    return f"must name an SLA calendar (PUT /api/v1/sla/calendars/{{name}} creates one); there are: {names}"


def validate(body: dict[str, Any]) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    calendar = body.get("calendar")
    if not isinstance(calendar, str) or not calendar:
        problems.append({"field": "calendar", "message": "must be the name of an SLA calendar, such as 24x7"})
    warning = body.get("warning_at")
    if isinstance(warning, bool) or not isinstance(warning, int | float) or not 0 < warning < 1:
        problems.append({"field": "warning_at", "message": "must be a number between 0 and 1 (e.g. 0.75)"})
    targets = body.get("targets")
    if not isinstance(targets, dict) or set(targets) != set(PRIORITIES):
        problems.append(
            {"field": "targets", "message": f"must have exactly the priorities {', '.join(PRIORITIES)}"}
        )
        return problems
    for priority, kinds in targets.items():
        if not isinstance(kinds, dict):
            problems.append({"field": f"targets.{priority}", "message": "must be an object of durations"})
            continue
        for kind in TARGET_KINDS:
            try:
                parse_duration(kinds.get(kind))  # type: ignore[arg-type]
            except ValueError as err:
                problems.append({"field": f"targets.{priority}.{kind}", "message": str(err)})
    return problems


def require(session: Session, name: str) -> Policy:
    """The named policy with its calendar (404 when there is none; no fallback to the default)."""
    row = session.get(SlaPolicy, name)
    if row is None:
        raise NotFound("SLA policy", name)
    return _loaded(session, row)
