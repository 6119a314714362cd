"""Business calendars as data: validated, stored in ``sla_calendars``, loaded once per session.

A calendar is written the way a supervisor thinks of it::

    {"time_zone": "Europe/Berlin",
     "hours": {"mon": ["09:00-12:30", "13:30-17:00"], ..., "sat": ["10:00-14:00"]},
     "holidays": {"country": "DE", "subdivision": "BY"},
     "overrides": {"2026-12-24": ["09:00-12:00"], "2026-12-31": []},
     "working_day": "PT8H"}

Days left out of ``hours`` are closed; an override replaces a date's hours (``[]`` closes it)
and wins over a holiday. ``24x7`` is built in and cannot be replaced. A changed calendar
applies to due times computed after the change; cases keep the due times they were given.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events
from engine.sla.calendar import TWENTY_FOUR_SEVEN, WEEKDAYS, Calendar, Day, Shift
from engine.sla.durations import iso, parse_duration
from engine.sla.models import SlaCalendar

BUILTIN = TWENTY_FOUR_SEVEN.name
_MEMO = "sift.sla_calendars"
POLICY_MEMO = "sift.sla_policies"
_SHIFT = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
log = logging.getLogger("sift.sla")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _countries() -> dict[str, list[str]]:
    """Country codes the ``holidays`` package knows, each with its subdivision codes (imported
    here, as ``calendar.holiday_dates`` does)."""
    import holidays as holidays_lib

    return holidays_lib.list_supported_countries()


def get(session: Session, name: str) -> Calendar | None:
    """The calendar ``name`` as a value for the arithmetic, or None; read once per transaction."""
    if name == BUILTIN:
        return TWENTY_FOUR_SEVEN
    memo: dict[str, Calendar | None] = session.info.setdefault(_MEMO, {})
    if name not in memo:
        row = session.get(SlaCalendar, name)
        memo[name] = _calendar(row) if row is not None else None
    return memo[name]


def resolve(session: Session, name: str) -> Calendar:
    """The calendar a policy names; 24x7 (with a warning in the log) when it has gone missing or
    no longer validates (a ``holidays`` upgrade dropped its region), so a case still opens."""
    try:
        calendar = get(session, name)
    except InvalidInput as err:
        log.warning("SLA calendar %r is invalid (%s); counting 24x7 instead", name, err.detail)
        return TWENTY_FOUR_SEVEN
    if calendar is None:
        log.warning("SLA calendar %r is missing; counting 24x7 instead", name)
        return TWENTY_FOUR_SEVEN
    return calendar


def exists(session: Session, name: Any) -> bool:
    return isinstance(name, str) and get(session, name) is not None


def require(session: Session, name: str) -> dict[str, Any]:
    """The stored document of ``name`` (404 when there is none)."""
    if name == BUILTIN:
        return describe(TWENTY_FOUR_SEVEN)
    row = session.get(SlaCalendar, name)
    if row is None:
        raise NotFound("SLA calendar", name)
    return _document(row)


def list_calendars(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(SlaCalendar).order_by(SlaCalendar.name))
    return sorted([describe(TWENTY_FOUR_SEVEN), *(_document(r) for r in rows)], key=lambda c: c["name"])


def put(session: Session, name: str, body: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """Creates or replaces a calendar after checking all of it; every problem is reported at once."""
    if name == BUILTIN:
        raise Conflict(f"The calendar {BUILTIN!r} is built in; save your hours under another name.")
    calendar = build(name, body)
    holidays = body.get("holidays") or {}
    row = session.get(SlaCalendar, name)
    if row is None:
        row = SlaCalendar(name=name)
        session.add(row)
    row.time_zone = body["time_zone"]
    row.hours = {day: list(body["hours"].get(day, [])) for day in WEEKDAYS}
    row.overrides = {d: list(v) for d, v in sorted((body.get("overrides") or {}).items())}
    row.holiday_country = holidays.get("country")
    row.holiday_subdivision = holidays.get("subdivision")
    row.working_day = body.get("working_day") or "PT8H"
    row.updated_at = utcnow()
    row.updated_by = actor
    forget(session)
    session.flush()
    events.record(session, "sla.calendar_changed", actor=actor, data={"name": name})
    return describe(calendar)


def forget(session: Session) -> None:
    """Empties this session's memo of calendars and of policies (which hold their calendar)."""
    session.info.get(_MEMO, {}).clear()
    session.info.get(POLICY_MEMO, {}).clear()


def validate(body: dict[str, Any]) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    zone = body.get("time_zone")
    if not isinstance(zone, str) or zone not in _zones():
        problems.append({"field": "time_zone", "message": "must be an IANA time zone such as Europe/Berlin"})
    hours = body.get("hours")
    if not isinstance(hours, dict):
        problems.append({"field": "hours", "message": f"must map {', '.join(WEEKDAYS)} to lists of shifts"})
    else:
        for day in sorted(set(hours) - set(WEEKDAYS)):
            problems.append({"field": f"hours.{day}", "message": f"is not one of {', '.join(WEEKDAYS)}"})
        found = len(problems)
        week = [_shifts(hours.get(day, []), f"hours.{day}", problems) for day in WEEKDAYS]
        if len(problems) == found and not any(week):
            problems.append(
                {"field": "hours", "message": "has no working time: a target under it would never come due"}
            )
    _check_holidays(body.get("holidays"), problems)
    _check_overrides(body.get("overrides"), problems)
    working_day = body.get("working_day")
    if working_day is not None:
        try:
            length = parse_duration(working_day)
        except ValueError as err:
            problems.append({"field": "working_day", "message": str(err)})
        else:
            if not timedelta() < length <= timedelta(days=1):
                problems.append(
                    {"field": "working_day", "message": "must be more than zero and at most PT24H"}
                )
    return problems


def _shifts(value: Any, where: str, problems: list[dict[str, str]]) -> Day:
    """Parses one day's shifts, adding a problem for each bad, reversed or overlapping one."""
    if not isinstance(value, list):
        problems.append({"field": where, "message": 'must be a list of shifts such as ["09:00-17:00"]'})
        return ()
    parsed: list[Shift] = []
    for i, text in enumerate(value):
        shift = _shift(text)
        if isinstance(shift, str):
            problems.append({"field": f"{where}.{i}", "message": shift})
        else:
            parsed.append(shift)
    parsed.sort()
    for before, after in pairwise(parsed):
        if after.start < before.end:
            problems.append({"field": where, "message": f"shifts {before} and {after} overlap"})
    return _merged(parsed)


def _shift(text: Any) -> Shift | str:
    """A shift, or what is wrong with it."""
    match = _SHIFT.match(text) if isinstance(text, str) else None
    if not match:
        return 'must be a shift written "HH:MM-HH:MM", such as "09:00-12:30"'
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        return f"{text} is not a time of day (00:00 to 24:00)"
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if end <= start:
        return f"{text} ends before it starts; split a shift past midnight into two days' shifts"
    return Shift(start, end)


def _merged(shifts: list[Shift]) -> Day:
    """Shifts that touch (12:00-13:00 and 13:00-14:00) become one; the arithmetic wants gaps."""
    out: list[Shift] = []
    for shift in shifts:
        if out and shift.start <= out[-1].end:
            out[-1] = Shift(out[-1].start, max(out[-1].end, shift.end))
        else:
            out.append(shift)
    return tuple(out)


def _check_holidays(value: Any, problems: list[dict[str, str]]) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or set(value) - {"country", "subdivision"}:
        problems.append(
            {"field": "holidays", "message": 'must be null or {"country": "DE", "subdivision": "BY"}'}
        )
        return
    country, subdivision = value.get("country"), value.get("subdivision")
    known = _countries()
    if not isinstance(country, str) or country not in known:
        problems.append(
            {
                "field": "holidays.country",
                "message": "must be a country code the holidays package knows (DE, US, GB, ...)",
            }
        )
    elif subdivision is not None and subdivision not in known[country]:
        choices = ", ".join(known[country]) or "none"
        problems.append(
            {"field": "holidays.subdivision", "message": f"{country} has the subdivisions: {choices}"}
        )


def _check_overrides(value: Any, problems: list[dict[str, str]]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.append(
            {"field": "overrides", "message": 'must map dates to shifts, e.g. {"2026-12-31": []}'}
        )
        return
    for key, shifts in value.items():
        if not _is_date(key):
            problems.append({"field": f"overrides.{key}", "message": "must be a date written YYYY-MM-DD"})
        _shifts(shifts, f"overrides.{key}", problems)


def _is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def build(name: str, body: dict[str, Any]) -> Calendar:
    """A calendar document (as PUT takes it) checked and turned into a value for the arithmetic."""
    problems = validate(body)
    if problems:
        names = ", ".join(p["field"] for p in problems)
        raise InvalidInput(f"The SLA calendar has invalid fields: {names}.", fields=problems)
    holidays = body.get("holidays") or {}
    return Calendar(
        name=name,
        zone=ZoneInfo(body["time_zone"]),
        weekly=tuple(_day(body["hours"].get(day, [])) for day in WEEKDAYS),  # type: ignore[arg-type]
        overrides={date.fromisoformat(d): _day(v) for d, v in (body.get("overrides") or {}).items()},
        holiday_country=holidays.get("country"),
        holiday_subdivision=holidays.get("subdivision"),
        working_day=parse_duration(body.get("working_day") or "PT8H"),
    )


def _calendar(row: SlaCalendar) -> Calendar:
    """The stored row as a value for the arithmetic (it was validated when it was written)."""
    return build(row.name, _body(row))


def _body(row: SlaCalendar) -> dict[str, Any]:
    holidays = {"country": row.holiday_country, "subdivision": row.holiday_subdivision}
    return {
        "time_zone": row.time_zone,
        "hours": row.hours,
        "overrides": row.overrides,
        "holidays": holidays if row.holiday_country else None,
        "working_day": row.working_day,
    }


def _day(texts: list[str]) -> Day:
    return _merged(sorted(s for s in map(_shift, texts) if isinstance(s, Shift)))


def _document(row: SlaCalendar) -> dict[str, Any]:
    return describe(_calendar(row))


def describe(calendar: Calendar) -> dict[str, Any]:
    """A calendar value written as its API document."""
    holidays = (
        {"country": calendar.holiday_country, "subdivision": calendar.holiday_subdivision}
        if calendar.holiday_country
        else None
    )
    return {
        "name": calendar.name,
        "time_zone": calendar.zone.key,
        "hours": {
            day: [str(s) for s in shifts] for day, shifts in zip(WEEKDAYS, calendar.weekly, strict=True)
        },
        "holidays": holidays,
        "overrides": {d.isoformat(): [str(s) for s in v] for d, v in sorted(calendar.overrides.items())},
        "working_day": iso(calendar.working_day),
        "builtin": calendar.name == BUILTIN,
    }
