"""SLA policies as data: targets per priority, a calendar, a warning share.

A case takes its due times from the policy routing named when it opens; a
changed policy applies to cases opened after the change.

A target is a duration string, or an object with the duration and its levels (Pega's goal,
deadline and passed deadline): ``{"target": "PT1H", "goal": level, "deadline": level,
"passed_deadline": {"every": "PT30M", "times": 3, **level}}``, a level being ``{"urgency":
0-100, "actions": [...]}``. A plain string keeps the defaults: the goal (the warning) and
the passed deadline do nothing more than their timeline event; the deadline sends
``sla_breached`` into the case's process.

A priority's targets may also name stages: ``"stage:<task name>": target`` runs a clock from
when a user task of that name (its BPMN element id) opens for the case until it ends. A stage
sits beside the three kinds in each priority, so it is looked up, stored and checked exactly as
they are, and may differ by priority like them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
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
INVESTIGATION_POLICY = "investigation"
_MEMO = calendars.POLICY_MEMO
PRIORITIES = ("urgent", "high", "normal", "low")
TARGET_KINDS = ("first_response", "next_response", "resolution")
STAGE = "stage:"  # a stage target's key: "stage:triage"
_STAGE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")  # a BPMN element id, as tasks name it

GOAL, DEADLINE, PASSED_DEADLINE = "goal", "deadline", "passed_deadline"
LEVELS = (GOAL, DEADLINE, PASSED_DEADLINE)
NOTIFY, RAISE_PRIORITY, MESSAGE, REASSIGN = "notify", "raise_priority", "message", "reassign"
PLAIN_ACTIONS = (NOTIFY, RAISE_PRIORITY, MESSAGE)
MAX_URGENCY = 100
MAX_PASSES = 50  # a passed deadline repeats at most this often: more is a typo, and each is a timer
_LEVEL_KEYS = {GOAL: {"urgency", "actions", "at"}, DEADLINE: {"urgency", "actions"}}
_LEVEL_KEYS[PASSED_DEADLINE] = {"urgency", "actions", "every", "times"}
_TARGET_KEYS = {"target", *LEVELS}


@dataclass(frozen=True)
class Action:
    """``notify``, ``raise_priority``, ``message``, or ``reassign`` to ``queue``."""

    name: str
    queue: str | None = None


@dataclass(frozen=True)
class Level:
    urgency: int = 0
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Target:
    """One target kind of one priority: its duration and what each of its levels does."""

    duration: str
    goal: Level = Level()
    deadline: Level = Level(actions=(Action(MESSAGE),))
    passed: Level | None = None  # None: nothing happens after the deadline
    goal_at: float | None = None  # the goal's share of the target; None: the policy's warning_at
    every: str = "PT0S"
    times: int = 0


_DEFAULT_ACTIONS = {GOAL: (), DEADLINE: (Action(MESSAGE),), PASSED_DEADLINE: ()}


def _level(name: str, raw: Any) -> Level:
    if not isinstance(raw, dict):
        return Level(actions=_DEFAULT_ACTIONS[name])
    actions = _DEFAULT_ACTIONS[name]
    if "actions" in raw:
        actions = tuple(
            Action(REASSIGN, a[REASSIGN]) if isinstance(a, dict) else Action(str(a)) for a in raw["actions"]
        )
    return Level(int(raw.get("urgency", 0)), actions)


def target_of(raw: Any) -> Target:
    """The stored (validated) form of a target: a duration string or a target object."""
    if isinstance(raw, str):
        return Target(raw)
    passed = raw.get(PASSED_DEADLINE)
    goal = raw.get(GOAL)
    return Target(
        raw["target"],
        _level(GOAL, goal),
        _level(DEADLINE, raw.get(DEADLINE)),
        _level(PASSED_DEADLINE, passed) if isinstance(passed, dict) else None,
        float(goal["at"]) if isinstance(goal, dict) and "at" in goal else None,
        passed["every"] if isinstance(passed, dict) else "PT0S",
        int(passed["times"]) if isinstance(passed, dict) else 0,
    )


DEFAULT_TARGETS: dict[str, dict[str, Any]] = {
    "urgent": {"first_response": "PT15M", "next_response": "PT30M", "resolution": "PT4H"},
    "high": {"first_response": "PT1H", "next_response": "PT2H", "resolution": "PT8H"},
    "normal": {"first_response": "PT4H", "next_response": "PT8H", "resolution": "P1D"},
    "low": {"first_response": "P1D", "next_response": "P1D", "resolution": "P3D"},
}


def _investigation(define_cause: str, close: str) -> dict[str, Any]:
    # an investigation answers no customer: its first and next response are its close, so only
    # the stage clock (the cause named within hours) and the resolution (closed within days) bite
    return {
        "first_response": close,
        "next_response": close,
        "resolution": close,
        f"{STAGE}define_cause": define_cause,
    }


# what an investigation case (engine/trends) gets: define the cause within hours, close within days
INVESTIGATION_TARGETS: dict[str, dict[str, Any]] = {
    "urgent": _investigation("PT2H", "P2D"),
    "high": _investigation("PT4H", "P3D"),
    "normal": _investigation("PT8H", "P5D"),
    "low": _investigation("P1D", "P10D"),
}


@dataclass(frozen=True)
class Policy:
    """A policy with its calendar resolved, so the clock's arithmetic needs no session."""

    name: str
    calendar: str
    targets: dict[str, dict[str, Any]]
    warning_at: float
    resolved_calendar: Calendar = field(default=TWENTY_FOUR_SEVEN, compare=False)

    def targets_for(self, priority: str) -> dict[str, Any]:
        """The targets of ``priority``, falling back to normal's (a policy may leave one out)."""
        return self.targets.get(priority) or self.targets.get("normal") or DEFAULT_TARGETS["normal"]

    def target(self, priority: str, kind: str) -> Target:
        """The ``kind`` target of ``priority`` with its levels. A stage the priority does not
        name (the case's priority changed, or the policy, after its task opened) keeps its due
        time and takes the default levels."""
        found = self.targets_for(priority).get(kind)
        if found is None and kind.startswith(STAGE):
            return Target("PT0S")
        return target_of(self.targets_for(priority)[kind])

    def stages(self, priority: str) -> list[str]:
        """The stage targets (``stage:<task name>``) of ``priority``."""
        return [kind for kind in self.targets_for(priority) if kind.startswith(STAGE)]


DEFAULT = Policy(DEFAULT_POLICY, "24x7", DEFAULT_TARGETS, 0.75)


def _policy(row: SlaPolicy, calendar: Calendar = TWENTY_FOUR_SEVEN) -> Policy:
    return Policy(row.name, row.calendar, row.targets, row.warning_at, calendar)


def _loaded(session: Session, row: SlaPolicy) -> Policy:
    return _policy(row, calendars.resolve(session, row.calendar))


def ensure_default(session: Session) -> None:
    """The ``default`` policy and the ``investigation`` policy, where they do not exist yet (an
    edited one is left as it is)."""
    for name, targets in ((DEFAULT_POLICY, DEFAULT_TARGETS), (INVESTIGATION_POLICY, INVESTIGATION_TARGETS)):
        if session.get(SlaPolicy, name) is None:
            session.add(SlaPolicy(name=name, calendar="24x7", targets=targets, warning_at=0.75))
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


def _unreachable(calendar: Calendar, targets: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Targets (and their last passed deadline) that would not come due within the calendar's
    horizon from now."""
    problems = []
    now = utcnow()
    for priority, kinds in targets.items():
        for kind in [*TARGET_KINDS, *(k for k in kinds if k.startswith(STAGE))]:
            target = target_of(kinds[kind])
            field_ = f"targets.{priority}.{kind}" + (".target" if isinstance(kinds[kind], dict) else "")
            try:
                due = add_working_time(calendar, now, calendar.target(*parse_parts(target.duration)))
            except OutOfReach as err:
                problems.append({"field": field_, "message": err.detail})
                continue
            if target.passed is not None:
                try:
                    add_working_time(
                        calendar, due, calendar.target(*parse_parts(target.every)) * target.times
                    )
                except OutOfReach as err:
                    problems.append(
                        {"field": f"targets.{priority}.{kind}.passed_deadline.every", "message": err.detail}
                    )
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
            _check_target(f"targets.{priority}.{kind}", kinds.get(kind), problems)
        for kind in sorted(set(kinds) - set(TARGET_KINDS), key=str):
            path = f"targets.{priority}.{kind}"
            if not isinstance(kind, str) or not kind.startswith(STAGE):
                problems.append(
                    {
                        "field": path,
                        "message": f"is not a target; use {', '.join(TARGET_KINDS)} or stage:<task name>",
                    }
                )
            elif not _STAGE_NAME.fullmatch(kind[len(STAGE) :]):
                problems.append(
                    {
                        "field": path,
                        "message": "must name a user task by its BPMN id after stage: "
                        "(a letter or _, then letters, digits, _ . -; at most 64), such as stage:triage",
                    }
                )
            else:
                _check_target(path, kinds[kind], problems)
    return problems


def _check_duration(path: str, value: Any, problems: list[dict[str, str]], *, positive: bool = False) -> None:
    try:
        length = parse_duration(value)
    except ValueError as err:
        problems.append({"field": path, "message": str(err)})
        return
    if positive and length <= timedelta(0):
        problems.append({"field": path, "message": "must be a duration longer than zero, such as PT30M"})


def _check_target(path: str, value: Any, problems: list[dict[str, str]]) -> None:
    """A duration string, or a target object whose every field is checked."""
    if not isinstance(value, dict):
        _check_duration(path, value, problems)
        return
    for unknown in sorted(set(value) - _TARGET_KEYS, key=str):
        problems.append(
            {
                "field": f"{path}.{unknown}",
                "message": f"is not a target field; use {', '.join(sorted(_TARGET_KEYS))}",
            }
        )
    _check_duration(f"{path}.target", value.get("target"), problems)
    for name in LEVELS:
        if name in value:
            _check_level(f"{path}.{name}", name, value[name], problems)


def _check_level(path: str, name: str, level: Any, problems: list[dict[str, str]]) -> None:
    if not isinstance(level, dict):
        problems.append(
            {"field": path, "message": 'must be an object such as {"urgency": 10, "actions": ["notify"]}'}
        )
        return
    allowed = _LEVEL_KEYS[name]
    for unknown in sorted(set(level) - allowed, key=str):
        problems.append(
            {
                "field": f"{path}.{unknown}",
                "message": f"is not a field of {name}; use {', '.join(sorted(allowed))}",
            }
        )
    urgency = level.get("urgency", 0)
    if isinstance(urgency, bool) or not isinstance(urgency, int) or not 0 <= urgency <= MAX_URGENCY:
        problems.append(
            {"field": f"{path}.urgency", "message": f"must be a whole number from 0 to {MAX_URGENCY}"}
        )
    actions = level.get("actions", [])
    if not isinstance(actions, list):
        problems.append({"field": f"{path}.actions", "message": "must be a list of actions"})
    else:
        for i, action in enumerate(actions):
            if not _valid_action(action):
                problems.append(
                    {
                        "field": f"{path}.actions.{i}",
                        "message": 'must be "notify", "raise_priority", "message" or {"reassign": "<queue>"}',
                    }
                )
    if "at" in level:
        at = level["at"]
        if isinstance(at, bool) or not isinstance(at, int | float) or not 0 < at < 1:
            problems.append(
                {"field": f"{path}.at", "message": "must be a share of the target between 0 and 1 (e.g. 0.5)"}
            )
    if name == PASSED_DEADLINE:
        _check_duration(f"{path}.every", level.get("every"), problems, positive=True)
        times = level.get("times")
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_PASSES:
            problems.append(
                {"field": f"{path}.times", "message": f"must be a whole number from 1 to {MAX_PASSES}"}
            )


def _valid_action(action: Any) -> bool:
    if isinstance(action, str):
        return action in PLAIN_ACTIONS
    if isinstance(action, dict) and set(action) == {REASSIGN}:
        queue = action[REASSIGN]
        return isinstance(queue, str) and 0 < len(queue.strip()) <= 64 and queue == queue.strip()
    return False


def require(session: Session, name: str) -> Policy:
    """The named policy with its calendar (404 when there is none; no fallback to the default)."""
    row = session.get(SlaPolicy, name)
    if row is None:
        raise NotFound("SLA policy", name)
    return _loaded(session, row)
