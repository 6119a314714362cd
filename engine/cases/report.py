"""The SLA report: how the cases opened in a window did against their targets, per group.

It lives in ``engine.cases``, not ``engine.sla``: it reads the ``cases`` table through the
``Case`` model, and ``engine.sla`` sits in a layer below ``engine.cases`` (pyproject.toml), so
it may not import it; taking the table from the metadata by name would only hide the same
dependency from the import linter.

Definitions (``docs/api.md`` states the same for clients):

- **Window**: cases whose ``created_at`` lies in ``[start, end)``, of any kind and status,
  grouped by the case's current policy, queue, assignee or priority.
- **Targets**: first response (due ``first_response_due_at``) and resolution (due
  ``resolution_due_at``). The first-response clock stops at the first reply or, for a case
  resolved without one, at its resolution; the resolution clock stops at ``resolved_at``.
  A target with no due time does not exist for the case.
- **A target breached** when a ``sla.breached`` event names it, when its clock stopped after
  its due time, or when its clock still runs and the due time is at or before ``as_of``
  (the moment the report was asked for) — unless the case's clock is paused now: a paused
  clock does not come due. Any ``sla.breached`` event (whatever its target) breaches the case.
- **Compliance**: a case is *breached* if any target breached; *met* if at least one target
  has settled (its clock stopped, or it came due) and none breached; otherwise *pending*
  (an open case none of whose targets has come due yet). The share is met / (met + breached):
  pending cases are in neither part, and the share is null when both are zero.
- **Times**: first-response time is ``first_response_at - created_at`` over the cases that
  got a reply; resolution time is ``resolved_at - created_at`` over resolved (or closed)
  cases. Each in wall-clock seconds, and in working seconds of the calendar the case's policy
  names now (``working_time_between``; a calendar gone missing counts as 24x7, as the clock
  does). A case whose policy no longer exists (or that has none) is left out of the working
  figures only, so their ``count`` can be lower than the wall-clock one.
- **Percentiles** are nearest-rank: the p-th percentile of n sorted values is the value at
  1-based rank ``ceil(p * n / 100)``, always an observed value; null when n is 0.
- **Breaches by target** count ``sla.breached`` events of the window's cases by ``data.target``
  (``first_response`` and ``resolution`` always present, other targets when they occur).
- **Now**: how many of the window's cases are at risk, breached or paused at ``as_of``, with
  the case list's ``sla`` filter's meaning, so the two always agree.

Counts and groups are computed by two grouped SQL queries; Python only sees the rows with a
reply or a resolution (for the percentiles) and one line per group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session

from engine.cases import transitions
from engine.cases.models import Case
from engine.errors import InvalidInput
from engine.events.models import ActivityEvent
from engine.sla import policies
from engine.sla.calendar import Calendar, working_time_between

BREACHED_EVENT = "sla.breached"
TARGETS = ("first_response", "resolution")
DEFAULT_SPAN = timedelta(days=7)
MAX_SPAN = timedelta(days=366)
PERCENTILES = (50, 90)
GROUPINGS: dict[str, Any] = {
    "policy": Case.sla_policy,
    "queue": Case.queue,
    "assignee": Case.assignee,
    "priority": Case.priority,
}
NULL_LABELS = {"policy": "(no policy)", "assignee": "(unassigned)"}
_INSTANT_HINT = (
    "must be an ISO 8601 time with a zone between the years 1970 and 9000, e.g. "
    "2026-11-01T00:00:00Z (in a URL write + as %2B)"
)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    group_by: str


def window(start: str | None, end: str | None, group_by: str | None, *, now: datetime) -> Window:
    """The report's window from the query's text; every bad field is reported at once (422).

    ``end`` defaults to ``now`` and ``start`` to seven days before ``end``."""
    problems: list[dict[str, str]] = []
    parsed_start = _instant("from", start, problems) if start is not None else None
    parsed_end = _instant("to", end, problems) if end is not None else now
    grouping = group_by or "policy"
    if grouping not in GROUPINGS:
        problems.append({"field": "group_by", "message": f"must be one of {', '.join(GROUPINGS)}"})
    if parsed_end is not None and parsed_start is None and start is None:
        parsed_start = parsed_end - DEFAULT_SPAN
    if parsed_start is not None and parsed_end is not None:
        problems += _span_problems(parsed_start, parsed_end, "to" if end is not None else "from")
    if problems or parsed_start is None or parsed_end is None:
        names = ", ".join(p["field"] for p in problems)
        raise InvalidInput(f"The SLA report request has invalid fields: {names}.", fields=problems)
    return Window(parsed_start, parsed_end, grouping)


def _instant(name: str, value: str, problems: list[dict[str, str]]) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None or not 1970 <= parsed.year <= 9000:
        problems.append({"field": name, "message": _INSTANT_HINT})
        return None
    return parsed


def _span_problems(start: datetime, end: datetime, name: str) -> list[dict[str, str]]:
    """Problems of the span, named on ``to`` (or on ``from`` when ``to`` was left to default)."""
    if end <= start:
        message = "to must be later than from" + ("" if name == "to" else " (to defaults to now)")
        return [{"field": name, "message": message}]
    if end - start > MAX_SPAN:
        return [
            {"field": name, "message": "to must be at most 366 days after from; ask for a shorter window"}
        ]
    return []


@dataclass(frozen=True)
class Percentiles:
    """Nearest-rank percentiles of a sample of seconds (None when the sample is empty)."""

    count: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Durations:
    wall: Percentiles
    working: Percentiles


NO_TIMES = Durations(Percentiles(0, None, None), Percentiles(0, None, None))


@dataclass
class Figures:
    cases: int = 0
    resolved: int = 0
    met: int = 0
    breached: int = 0
    breaches: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGETS, 0))
    at_risk_now: int = 0
    breached_now: int = 0
    paused_now: int = 0
    first_response: Durations = NO_TIMES
    resolution: Durations = NO_TIMES

    @property
    def pending(self) -> int:
        return self.cases - self.met - self.breached

    @property
    def compliance(self) -> float | None:
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Group:
    key: str | None
    label: str
    figures: Figures


@dataclass(frozen=True)
class Report:
    window: Window
    as_of: datetime
    groups: list[Group]
    total: Figures


def report(session: Session, win: Window, *, as_of: datetime) -> Report:
    """The figures of ``win``'s cases per group and in total, judged as of ``as_of``."""
    dim = GROUPINGS[win.group_by]
    figures: dict[str | None, Figures] = defaultdict(Figures)
    _add_counts(session, win, dim, as_of, figures)
    _add_breaches(session, win, dim, figures)
    samples = _samples(session, win, dim)
    total = _sum(figures.values())
    for key, group in figures.items():
        group.first_response, group.resolution = _durations(samples.get(key, _Sample()))
    total.first_response, total.resolution = _durations(_Sample.union(samples.values()))
    groups = [Group(k, _label(win.group_by, k), f) for k, f in figures.items()]
    return Report(win, as_of, sorted(groups, key=lambda g: _order(win.group_by, g.key)), total)


def _label(group_by: str, key: str | None) -> str:
    return NULL_LABELS.get(group_by, "(none)") if key is None else key


def _order(group_by: str, key: str | None) -> tuple[int, int, str]:
    """Priorities urgent to low, other keys alphabetically; the null group last."""
    rank = transitions.PRIORITY_RANK.get(key or "", len(transitions.PRIORITIES))
    return (key is None, rank if group_by == "priority" else 0, key or "")


def _in_window(win: Window) -> ColumnElement[bool]:
    return and_(Case.created_at >= win.start, Case.created_at < win.end)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _add_counts(
    session: Session, win: Window, dim: Any, as_of: datetime, figures: dict[str | None, Figures]
) -> None:
    """Cases, resolved, compliance and the current SLA states per group: one grouped query."""
    late, settled = _judgement(as_of)
    running = Case.status.in_((transitions.OPEN, transitions.WAITING))
    stmt = (
        select(
            dim,
            func.count(),
            func.count(Case.resolved_at),
            _count(late),
            _count(and_(settled, ~late)),
            _count(and_(running, Case.sla_paused.is_(False), Case.sla_state == "at_risk")),
            _count(Case.sla_state == "breached"),
            _count(and_(running, Case.sla_paused.is_(True))),
        )
        .where(_in_window(win))
        .group_by(dim)
    )
    for key, cases, resolved, breached, met, at_risk, breached_now, paused in session.execute(stmt):
        f = figures[key]
        f.cases, f.resolved, f.met, f.breached = cases, resolved, int(met), int(breached)
        f.at_risk_now, f.breached_now, f.paused_now = int(at_risk), int(breached_now), int(paused)


def _judgement(as_of: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """SQL conditions on a case row: (some target breached, some target has settled)."""
    paused = and_(Case.status.in_((transitions.OPEN, transitions.WAITING)), Case.sla_paused.is_(True))
    first_stop = case(
        (Case.first_response_at.is_(None), Case.resolved_at),
        (Case.resolved_at.is_(None), Case.first_response_at),
        (Case.first_response_at < Case.resolved_at, Case.first_response_at),
        else_=Case.resolved_at,
    )
    clocks = ((Case.first_response_due_at, first_stop), (Case.resolution_due_at, Case.resolved_at))
    event = exists().where(ActivityEvent.case_id == Case.id, ActivityEvent.type == BREACHED_EVENT)
    late: list[ColumnElement[bool]] = [event]
    settled: list[ColumnElement[bool]] = [false()]
    for due, stop in clocks:
        overdue = and_(stop.is_(None), due <= as_of, ~paused)
        late.append(and_(due.is_not(None), or_(and_(stop.is_not(None), stop > due), overdue)))
        settled.append(and_(due.is_not(None), or_(stop.is_not(None), overdue)))
    return or_(*late), or_(*settled)


def _add_breaches(session: Session, win: Window, dim: Any, figures: dict[str | None, Figures]) -> None:
    """``sla.breached`` events of the window's cases, per group and target: one grouped query.

    The target is extracted in a subquery so the outer GROUP BY names a plain column
    (PostgreSQL refuses a GROUP BY expression whose bound key differs from the SELECT's)."""
    events = (
        select(dim.label("key"), ActivityEvent.data["target"].as_string().label("target"))
        .join(Case, Case.id == ActivityEvent.case_id)
        .where(_in_window(win), ActivityEvent.type == BREACHED_EVENT)
        .subquery()
    )
    stmt = select(events.c.key, events.c.target, func.count()).group_by(events.c.key, events.c.target)
    for key, target, n in session.execute(stmt):
        breaches = figures[key].breaches
        name = target or "unknown"
        breaches[name] = breaches.get(name, 0) + n


def _sum(groups: Iterable[Figures]) -> Figures:
    total = Figures()
    for f in groups:
        total.cases += f.cases
        total.resolved += f.resolved
        total.met += f.met
        total.breached += f.breached
        total.at_risk_now += f.at_risk_now
        total.breached_now += f.breached_now
        total.paused_now += f.paused_now
        for target, n in f.breaches.items():
            total.breaches[target] = total.breaches.get(target, 0) + n
    return total


@dataclass
class _Sample:
    """Seconds to first response and to resolution, wall-clock and working."""

    first_wall: list[float] = field(default_factory=list)
    first_working: list[float] = field(default_factory=list)
    resolution_wall: list[float] = field(default_factory=list)
    resolution_working: list[float] = field(default_factory=list)

    def add(
        self, calendar: Calendar | None, opened: datetime, first: datetime | None, done: datetime | None
    ) -> None:
        for stop, wall, working in (
            (first, self.first_wall, self.first_working),
            (done, self.resolution_wall, self.resolution_working),
        ):
            if stop is None:
                continue
            wall.append((stop - opened).total_seconds())
            if calendar is not None:
                working.append(working_time_between(calendar, opened, stop).total_seconds())

    @classmethod
    def union(cls, samples: Iterable[_Sample]) -> _Sample:
        whole = cls()
        for s in samples:
            whole.first_wall += s.first_wall
            whole.first_working += s.first_working
            whole.resolution_wall += s.resolution_wall
            whole.resolution_working += s.resolution_working
        return whole


def _samples(session: Session, win: Window, dim: Any) -> dict[str | None, _Sample]:
    """The rows the percentiles need (cases with a reply or a resolution), with their seconds."""
    calendars = {p.name: p.resolved_calendar for p in policies.list_policies(session)}
    stmt = select(dim, Case.sla_policy, Case.created_at, Case.first_response_at, Case.resolved_at).where(
        _in_window(win), or_(Case.first_response_at.is_not(None), Case.resolved_at.is_not(None))
    )
    samples: dict[str | None, _Sample] = defaultdict(_Sample)
    for key, policy, opened, first, done in session.execute(stmt):
        samples[key].add(calendars.get(policy) if policy else None, opened, first, done)
    return samples


def _durations(sample: _Sample) -> tuple[Durations, Durations]:
    return (
        Durations(percentiles(sample.first_wall), percentiles(sample.first_working)),
        Durations(percentiles(sample.resolution_wall), percentiles(sample.resolution_working)),
    )


def percentiles(values: Sequence[float]) -> Percentiles:
    ordered = sorted(values)
    p50, p90 = (nearest_rank(ordered, p) for p in PERCENTILES)
    return Percentiles(len(ordered), p50, p90)


def nearest_rank(ordered: Sequence[float], p: int) -> float | None:
    """The value at 1-based rank ``ceil(p * n / 100)`` of ``ordered`` (ascending); None if empty."""
    if not ordered:
        return None
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]
