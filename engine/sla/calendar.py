"""Working-time arithmetic on a business calendar: when does a target of N working hours fall due?

A calendar is weekly shifts in wall-clock time of one IANA zone, minus public holidays (the
``holidays`` package, per year on demand), with dated overrides that close a day or open it
with other hours (an override wins over a holiday). Every function here is pure: the calendar
is a plain value, loaded once by ``engine.sla.calendars``.

Daylight-saving changes. A shift's hours are what the local clock shows, so a 09:00-17:00 shift
is 8 hours on every day, and a night shift that spans the change is an hour shorter or longer.
A shift boundary is *the first instant at which the local clock reads that time or later*:

- a time that does not exist that day (02:30 in Berlin on 2026-03-29) is the instant the clock
  jumps past it (03:00 CEST), so a 02:30-04:00 shift is one hour long that day;
- a time that happens twice (02:30 in Berlin on 2026-10-25) is its first occurrence, so the
  repeated hour belongs to the shift that is open when the clock first reads 03:00.

The rule is monotone, so a day's shifts never overlap in real time and no working second is
counted twice.

Speed. Both functions walk shift by shift, never minute by minute, and jump a whole week at a
time when the week has no holiday, no override and no change of UTC offset (such a week holds
exactly the weekly hours): a P10D target is a handful of steps, a year-long one about sixty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from engine.errors import InvalidInput

DAY = 86400  # seconds; a shift may end at 24:00, i.e. DAY
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# a target further away than this is a configuration mistake (an hour a week and P1000D), and
# walking on would end in a datetime overflow near year 9999
HORIZON_YEARS = 20


class OutOfReach(InvalidInput):
    """A target that does not come due within ``HORIZON_YEARS`` of its start in its calendar."""

    def __init__(self, calendar: str, duration: timedelta) -> None:
        hours = round(duration.total_seconds() / 3600)
        super().__init__(
            f"{hours} working hours in the calendar {calendar!r} take more than {HORIZON_YEARS} years; "
            "shorten the target or add working hours to the calendar."
        )


@dataclass(frozen=True, order=True)
class Shift:
    """Working hours within one local day, in seconds after midnight; ``end`` may be 24:00."""

    start: int
    end: int

    @property
    def length(self) -> timedelta:
        return timedelta(seconds=self.end - self.start)

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


Day = tuple[Shift, ...]


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass(frozen=True)
class Calendar:
    """Weekly shifts (Monday first) in ``zone``, holidays of one country, dated overrides.

    ``working_day`` is how much working time one day (``D``) of a target stands for."""

    name: str
    zone: ZoneInfo
    weekly: tuple[Day, Day, Day, Day, Day, Day, Day]
    overrides: Mapping[date, Day] = field(default_factory=dict)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    working_day: timedelta = timedelta(hours=8)

    @cached_property
    def week_total(self) -> timedelta:
        """The working time of a week with no holiday, override or change of UTC offset."""
        return sum((s.length for day in self.weekly for s in day), timedelta())

    @cached_property
    def continuous(self) -> bool:
        """Open every instant: working time is elapsed time, whatever the zone."""
        return (
            not self.overrides
            and self.holiday_country is None
            and all(day == (Shift(0, DAY),) for day in self.weekly)
        )

    def shifts_on(self, day: date) -> Day:
        """The shifts of a local date: its override, else none on a holiday, else the weekday's."""
        if day in self.overrides:
            return self.overrides[day]
        if self.is_holiday(day):
            return ()
        return self.weekly[day.weekday()]

    def is_holiday(self, day: date) -> bool:
        if self.holiday_country is None:
            return False
        return day in holiday_dates(self.holiday_country, self.holiday_subdivision, day.year)

    def target(self, days: int, clock: timedelta) -> timedelta:
        """Working time of a target written as ``days`` and a clock part (see ``durations``)."""
        return self.working_day * days + clock


TWENTY_FOUR_SEVEN = Calendar(
    name="24x7",
    zone=ZoneInfo("UTC"),
    weekly=((Shift(0, DAY),),) * 7,
    working_day=timedelta(hours=24),
)


@lru_cache(maxsize=512)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays of one country (and region) in one year, computed when first asked for.
    The ``holidays`` package (about 3 MB resident) is imported then: a server whose calendars
    name no country never loads it."""
    import holidays as holidays_lib

    return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))


def add_working_time(calendar: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant (UTC) at which ``duration`` of working time has passed since ``start``.

    A start outside working hours counts from the next opening; a zero duration is ``start``."""
    cursor = _utc(start)
    if duration < timedelta():
        raise ValueError("a working-time duration cannot be negative")
    if calendar.continuous or not duration:
        return cursor + duration
    remaining = duration
    day = _local_date(calendar, cursor) - timedelta(days=1)
    horizon = day.replace(year=day.year + HORIZON_YEARS, day=min(day.day, 28))
    while day < horizon:
        if remaining > calendar.week_total and _week_starts_after(calendar, day, cursor):
            remaining -= calendar.week_total
            day += timedelta(days=7)
            cursor = _boundary(calendar.zone, day, 0)
            continue
        for opens, closes in _intervals(calendar, day):
            opens = max(opens, cursor)
            if closes <= opens:
                continue
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
            cursor = closes
        day += timedelta(days=1)
    raise OutOfReach(calendar.name, duration)


def working_time_between(calendar: Calendar, a: datetime, b: datetime) -> timedelta:
    """The working time in ``[a, b)``; negative when ``b`` is before ``a``."""
    a, b = _utc(a), _utc(b)
    if b < a:
        return -working_time_between(calendar, b, a)
    if calendar.continuous:
        return b - a
    total = timedelta()
    cursor = a
    day = _local_date(calendar, a) - timedelta(days=1)
    while cursor < b:
        week_end = _boundary(calendar.zone, day + timedelta(days=7), 0)
        if week_end <= b and _week_starts_after(calendar, day, cursor):
            total += calendar.week_total
            day += timedelta(days=7)
            cursor = week_end
            continue
        for opens, closes in _intervals(calendar, day):
            opens, closes = max(opens, cursor), min(closes, b)
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
        cursor = max(cursor, _boundary(calendar.zone, day, 0))
    return total


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("calendar arithmetic needs timezone-aware datetimes")
    return value.astimezone(UTC)


def _local_date(calendar: Calendar, instant: datetime) -> date:
    return instant.astimezone(calendar.zone).date()


def _intervals(calendar: Calendar, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The day's shifts as UTC intervals, in order."""
    for shift in calendar.shifts_on(day):
        yield _boundary(calendar.zone, day, shift.start), _boundary(calendar.zone, day, shift.end)


def _week_starts_after(calendar: Calendar, day: date, cursor: datetime) -> bool:
    """True when the seven days from ``day`` lie after ``cursor`` and hold exactly the weekly hours."""
    if _boundary(calendar.zone, day, 0) < cursor:
        return False
    days = [day + timedelta(days=i) for i in range(7)]
    if any(d in calendar.overrides or calendar.is_holiday(d) for d in days):
        return False
    return len({_midnight_offset(calendar.zone, d) for d in [*days, days[-1] + timedelta(days=1)]}) == 1


@lru_cache(maxsize=8192)
def _midnight_offset(zone: tzinfo, day: date) -> timedelta | None:
    return _boundary(zone, day, 0).astimezone(zone).utcoffset()


@lru_cache(maxsize=65536)  # pure, and every walk asks again for the same days' boundaries
def _boundary(zone: tzinfo, day: date, seconds: int) -> datetime:
    """The first instant (UTC) at which the local clock in ``zone`` reads ``day`` + ``seconds`` or later."""
    if seconds >= DAY:
        day, seconds = day + timedelta(days=1), seconds - DAY
    wall = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60))
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: the first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # ``wall`` is in a gap: fold=0 used the offset from before the jump, which lands after it,
    # and fold=1 the offset after it, which lands before. Offsets change on whole seconds:
    # bisect the POSIX seconds between the two for the jump.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)
