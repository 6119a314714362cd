"""Working-time arithmetic: weekends, holidays, overrides, split shifts, DST, long targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sla import calendar as cal_mod
from engine.sla.calendar import TWENTY_FOUR_SEVEN, Calendar, add_working_time, working_time_between
from engine.sla.calendars import build

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS_9_17 = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
H = timedelta(hours=1)


def office(hours: dict[str, list[str]] | None = None, zone: str = "Europe/Berlin", **more: Any) -> Calendar:
    return build("office", {"time_zone": zone, "hours": hours or WEEKDAYS_9_17, **more})


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def test_friday_afternoon_one_hour_is_due_monday_morning():
    due = add_working_time(office(), at(BERLIN, 2026, 6, 5, 16, 30), H)
    assert due == at(BERLIN, 2026, 6, 8, 9, 30)
    assert due.tzinfo is UTC


def test_a_start_outside_hours_counts_from_the_next_opening():
    saturday = at(BERLIN, 2026, 6, 6, 11, 0)
    assert add_working_time(office(), saturday, H) == at(BERLIN, 2026, 6, 8, 10, 0)
    before_opening = at(BERLIN, 2026, 6, 8, 7, 0)
    assert add_working_time(office(), before_opening, 30 * timedelta(minutes=1)) == at(
        BERLIN, 2026, 6, 8, 9, 30
    )


def test_public_holidays_from_the_holidays_package_are_skipped():
    de = office(holidays={"country": "DE"})
    christmas_eve = at(BERLIN, 2026, 12, 24, 16, 30)  # 25th is a Friday and a holiday, 26th a Saturday
    assert add_working_time(office(), christmas_eve, H) == at(BERLIN, 2026, 12, 25, 9, 30)
    assert add_working_time(de, christmas_eve, H) == at(BERLIN, 2026, 12, 28, 9, 30)
    # a regional holiday: Corpus Christi (Thursday 2026-06-04) in Bavaria, not in Berlin
    wednesday = at(BERLIN, 2026, 6, 3, 16, 0)
    bavaria = office(holidays={"country": "DE", "subdivision": "BY"})
    assert add_working_time(bavaria, wednesday, 2 * H) == at(BERLIN, 2026, 6, 5, 10, 0)
    berlin = office(holidays={"country": "DE", "subdivision": "BE"})
    assert add_working_time(berlin, wednesday, 2 * H) == at(BERLIN, 2026, 6, 4, 10, 0)


def test_a_target_across_new_year_has_no_cliff():
    hours = {**WEEKDAYS_9_17, "sat": ["10:00-14:00"]}
    de = office(hours, holidays={"country": "DE"})
    new_years_eve = at(BERLIN, 2026, 12, 31, 16, 0)  # Thursday; 1 January 2027 is a holiday
    assert add_working_time(de, new_years_eve, 2 * H) == at(BERLIN, 2027, 1, 2, 11, 0)
    assert working_time_between(de, new_years_eve, at(BERLIN, 2027, 1, 5, 9, 0)) == 13 * H


def test_overrides_close_a_day_or_open_it_with_other_hours_and_win_over_holidays():
    de = office(
        holidays={"country": "DE"},
        overrides={"2026-12-24": [], "2026-12-25": ["10:00-12:00"], "2026-12-28": ["13:00-14:00"]},
    )
    wednesday = at(BERLIN, 2026, 12, 23, 16, 0)
    assert add_working_time(de, wednesday, 2 * H) == at(BERLIN, 2026, 12, 25, 11, 0)
    assert add_working_time(de, wednesday, 4 * H) == at(BERLIN, 2026, 12, 28, 14, 0)


def test_split_shifts_skip_the_break():
    split = office({d: ["09:00-12:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")})
    monday_noon = at(BERLIN, 2026, 6, 8, 12, 0)
    assert add_working_time(split, monday_noon, H) == at(BERLIN, 2026, 6, 8, 14, 0)
    assert add_working_time(split, monday_noon, 30 * timedelta(minutes=1)) == at(BERLIN, 2026, 6, 8, 12, 30)
    assert working_time_between(split, monday_noon, at(BERLIN, 2026, 6, 8, 18, 0)) == 4 * H


def test_berlin_dst_changes_keep_wall_clock_hours():
    # the clocks move on Sunday 2026-03-29 and Sunday 2026-10-25; Friday's 16:00 is 15:00Z in
    # March and Monday's 10:00 is 08:00Z: the office opens at 09:00 local both sides
    assert add_working_time(office(), at(BERLIN, 2026, 3, 27, 16, 0), 2 * H) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )
    assert add_working_time(office(), at(BERLIN, 2026, 10, 23, 16, 0), 2 * H) == datetime(
        2026, 10, 26, 9, 0, tzinfo=UTC
    )
    week = office({d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert working_time_between(week, at(BERLIN, 2026, 3, 28, 0, 0), at(BERLIN, 2026, 3, 31, 0, 0)) == 24 * H


def test_a_shift_across_the_change_is_as_long_as_the_clock_says():
    nights = office({d: ["01:00-05:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    day = timedelta(days=1)

    def worked(d: date) -> timedelta:
        start = datetime.combine(d, datetime.min.time(), BERLIN)
        return working_time_between(nights, start, start + day)

    assert (worked(spring), worked(autumn), worked(date(2026, 6, 7))) == (3 * H, 5 * H, 4 * H)


def test_boundaries_inside_the_gap_or_the_repeated_hour_are_deliberate():
    """A boundary is the first instant the clock reads that time or later."""
    odd = office({d: ["02:30-04:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    # 02:30 does not exist on 2026-03-29: the shift opens when the clock jumps to 03:00 CEST
    spring_midnight = at(BERLIN, 2026, 3, 29, 0, 0)
    assert add_working_time(odd, spring_midnight, timedelta(minutes=1)) == datetime(
        2026, 3, 29, 1, 1, tzinfo=UTC
    )
    assert working_time_between(odd, spring_midnight, spring_midnight + 12 * H) == H
    # 02:30 happens twice on 2026-10-25: the shift opens at the first one and runs to 04:00 CET
    autumn_midnight = at(BERLIN, 2026, 10, 25, 0, 0)
    assert add_working_time(odd, autumn_midnight, timedelta(minutes=1)) == datetime(
        2026, 10, 25, 0, 31, tzinfo=UTC
    )
    assert working_time_between(odd, autumn_midnight, autumn_midnight + 12 * H) == 2.5 * H


def test_a_week_with_a_dst_change_is_not_skipped_as_a_plain_week():
    # open round the clock but for a half-hour break: the week of 2026-03-29 loses an hour
    almost = office(
        {d: ["00:00-12:00", "12:30-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    monday = at(BERLIN, 2026, 3, 23, 0, 0)
    three_weeks_later = at(BERLIN, 2026, 4, 13, 0, 0)
    assert working_time_between(almost, monday, at(BERLIN, 2026, 3, 30, 0, 0)) == 163.5 * H
    assert working_time_between(almost, monday, three_weeks_later) == 492.5 * H
    assert add_working_time(almost, monday, 492.5 * H) == three_weeks_later


def test_new_york_dst_changes_keep_wall_clock_hours():
    daily = office(
        {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}, "America/New_York"
    )
    # Saturday 16:00 EST is 21:00Z; Sunday 2026-03-08 opens at 09:00 EDT = 13:00Z
    assert add_working_time(daily, at(NEW_YORK, 2026, 3, 7, 16, 0), 2 * H) == datetime(
        2026, 3, 8, 14, 0, tzinfo=UTC
    )
    # Sunday 2026-11-01 opens at 09:00 EST = 14:00Z
    assert add_working_time(daily, at(NEW_YORK, 2026, 10, 31, 16, 0), 2 * H) == datetime(
        2026, 11, 1, 15, 0, tzinfo=UTC
    )


def test_ten_working_days_are_eighty_working_hours():
    ten_days = office().target(10, timedelta())
    assert ten_days == 80 * H
    monday = at(BERLIN, 2026, 6, 1, 9, 0)
    assert add_working_time(office(), monday, ten_days) == at(BERLIN, 2026, 6, 12, 17, 0)
    assert working_time_between(office(), monday, at(BERLIN, 2026, 6, 12, 17, 0)) == ten_days


def test_long_targets_step_by_shift_and_skip_whole_weeks(monkeypatch):
    calls = 0
    real = cal_mod._intervals

    def counted(calendar: Calendar, day: date):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(calendar, day)

    monkeypatch.setattr(cal_mod, "_intervals", counted)
    start = at(BERLIN, 2026, 1, 7, 11, 0)
    due = add_working_time(office(holidays={"country": "DE"}), start, 2100 * H)  # about a year
    assert due.astimezone(BERLIN).year == 2027
    # a year has 365 days; without skipping every day would be visited once
    assert calls < 120, calls
    assert working_time_between(office(holidays={"country": "DE"}), start, due) == 2100 * H


def test_24x7_counts_every_second_and_refuses_naive_times():
    start = datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN)  # 5 elapsed hours, not 5 on the wall clock
    assert add_working_time(TWENTY_FOUR_SEVEN, start, 5 * H) == datetime(2026, 3, 29, 4, 30, tzinfo=UTC)
    assert working_time_between(TWENTY_FOUR_SEVEN, start, start + 5 * H) == 4 * H  # 05:30 CEST
    with pytest.raises(ValueError):
        add_working_time(office(), datetime(2026, 6, 1, 9, 0), H)
    with pytest.raises(ValueError):
        add_working_time(office(), start, -H)
    assert working_time_between(office(), at(BERLIN, 2026, 6, 1, 17), at(BERLIN, 2026, 6, 1, 9)) == -8 * H


# --- properties -----------------------------------------------------------------------------

CALENDARS = [
    office(
        {
            **{d: ["09:00-12:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            "sat": ["10:00-14:00"],
        },
        holidays={"country": "DE", "subdivision": "BY"},
        overrides={"2026-12-24": ["09:00-12:00"], "2026-12-31": [], "2027-01-02": ["08:00-20:00"]},
    ),
    office({d: ["00:00-02:30", "03:00-24:00"] for d in ("sat", "sun")}, "Europe/Berlin"),
    office(
        {d: ["01:30-02:30", "09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sun")},
        "America/New_York",
        holidays={"country": "US", "subdivision": "NY"},
    ),
    office(
        {"mon": ["09:00-18:00"], "thu": ["22:00-24:00"], "fri": ["00:00-06:00"]},
        "Asia/Tokyo",
        holidays={"country": "JP"},
    ),
]
starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
durations = st.integers(min_value=0, max_value=120_000).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=starts, duration=durations)
def test_add_then_measure_round_trips(calendar: Calendar, start: datetime, duration: timedelta):
    due = add_working_time(calendar, start, duration)
    assert working_time_between(calendar, start, due) == duration
    if duration:  # due is the earliest such instant: a minute before, the target was not yet met
        assert working_time_between(calendar, start, due - timedelta(minutes=1)) < duration


@settings(max_examples=80, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=starts, first=durations, second=durations)
def test_adding_in_two_steps_is_adding_once(
    calendar: Calendar, start: datetime, first: timedelta, second: timedelta
):
    middle = add_working_time(calendar, start, first)
    assert add_working_time(calendar, middle, second) == add_working_time(calendar, start, first + second)


def _open_by_the_clock(calendar: Calendar, instant: datetime) -> bool:
    local = instant.astimezone(calendar.zone)
    seconds = local.hour * 3600 + local.minute * 60
    return any(s.start <= seconds < s.end for s in calendar.shifts_on(local.date()))


@settings(max_examples=40, deadline=None)
@given(start=starts, quarters=st.integers(min_value=0, max_value=600))
def test_matches_reading_the_clock_quarter_by_quarter(start: datetime, quarters: int):
    """Tokyo has no DST, so an instant is working time exactly when the clock says so."""
    tokyo = CALENDARS[3]
    start = start.replace(minute=start.minute - start.minute % 15)
    quarter = timedelta(minutes=15)
    cursor, left = start, quarters
    while left:
        if _open_by_the_clock(tokyo, cursor):
            left -= 1
        cursor += quarter
    assert add_working_time(tokyo, start, quarters * quarter) == cursor  # the end of the last counted quarter


def test_a_target_beyond_the_horizon_is_an_error_not_an_endless_walk():
    from engine.sla.calendar import OutOfReach

    sparse = office({"mon": ["09:00-10:00"]})
    with pytest.raises(OutOfReach):
        add_working_time(sparse, at(BERLIN, 2026, 6, 1, 9, 0), 24_000 * H)
    assert add_working_time(sparse, at(BERLIN, 2026, 6, 1, 9, 0), 900 * H).year < 2046
