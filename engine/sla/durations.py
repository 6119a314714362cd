"""ISO 8601 durations as SLA targets write them: weeks, days, hours, minutes, seconds.

A target's days mean different amounts of working time in different calendars (a day of a
24x7 clock is 24 hours; a day of an office calendar is its ``working_day``), so the parser
keeps the day part apart from the clock part instead of folding both into one timedelta.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# a target of more than this many days is a typo, and datetimes overflow near year 9999
MAX_DAYS = 3660


def parse_parts(text: str) -> tuple[int, timedelta]:
    """``(days, clock part)``: weeks count as seven days (ISO 8601), hours and less as a timedelta."""
    if isinstance(text, str):
        return _parse_text(text)
    raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT15M, PT4H or P1D")


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> tuple[int, timedelta]:
    """:func:`parse_parts` of a string, remembered: every case opened parses its policy's few
    targets again (the answer is immutable; a refused text raises again, it is not cached)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT15M, PT4H or P1D")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    days = int(parts.pop("weeks", 0)) * 7 + int(parts.pop("days", 0))
    clock = timedelta(**parts)
    if days + clock.days > MAX_DAYS:
        raise ValueError(f"{text!r} is longer than {MAX_DAYS} days; SLA targets are shorter than that")
    return days, clock


def parse_duration(text: str) -> timedelta:
    """The duration in elapsed time, a day being 24 hours (``PT4H``, ``P1DT2H``)."""
    days, clock = parse_parts(text)
    return timedelta(days=days) + clock


def iso(value: timedelta) -> str:
    """A timedelta written back as an ISO 8601 duration of hours, minutes and seconds."""
    seconds = round(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text == "PT" else "")
