"""The vetted helpers scripts may call; each takes and returns plain data only."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime as _datetime
from datetime import timedelta as _timedelta
from typing import Any

from engine.runtime.budget import MAX_RANGE, Refusal

# --- vetted helpers: each returns plain data only -----------------------------------------------


def _safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise Refusal(f"range() longer than {MAX_RANGE}")
    return result


def now() -> str:
    """Current time, ISO 8601 in UTC."""
    return _datetime.now(UTC).isoformat()


def duration(
    weeks: float = 0, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> str:
    """An ISO 8601 duration string such as ``'P1DT4H'``, usable as a timer expression."""
    return _iso_duration(_timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds))


def timedelta(
    days: float = 0,
    seconds: float = 0,
    microseconds: float = 0,
    milliseconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    weeks: float = 0,
) -> str:
    """Python's ``timedelta`` signature (so ``timedelta(2)`` is two days, as modelers who know
    Python expect), returning the ISO 8601 duration string a timer reads."""
    return _iso_duration(_timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks))


def _iso_duration(total: _timedelta) -> str:
    """``P1DT4H30M``; fractions of a second are kept (``PT0.25S``), as ISO 8601 and
    SpiffWorkflow's timers read them."""
    if total < _timedelta(0):
        raise ValueError("duration must not be negative")
    d, rest = divmod(total.days * 86_400 + total.seconds, 86_400)
    h, rest = divmod(rest, 3_600)
    m, s = divmod(rest, 60)
    second = f"{s}.{total.microseconds:06d}".rstrip("0") if total.microseconds else str(s)
    parts = ((h, "H", str(h)), (m, "M", str(m)), (s or total.microseconds, "S", second))
    clock = "".join(f"{text}{unit}" for value, unit, text in parts if value)
    return f"P{d}D" + (f"T{clock}" if clock else "") if d else f"PT{clock or '0S'}"


def datetime(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> str:
    """An ISO 8601 UTC timestamp string."""
    return _datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()


def add_duration(
    timestamp: str, weeks: float = 0, days: float = 0, hours: float = 0, minutes: float = 0
) -> str:
    """``timestamp`` (ISO 8601; naive means UTC) moved by the given amount, as an ISO string."""
    moment = _datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    shifted = moment + _timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    return shifted.astimezone(UTC).isoformat()


HELPERS: dict[str, Any] = {
    "now": now,
    "duration": duration,
    "timedelta": timedelta,
    "datetime": datetime,
    "add_duration": add_duration,
}
