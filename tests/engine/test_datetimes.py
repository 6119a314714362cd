"""Datetimes on SQLite: stored as the text SQLAlchemy's own DATETIME stores, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import sqlite

from engine.db import UTCDateTime

DIALECT = sqlite.dialect()
OURS = UTCDateTime().bind_processor(DIALECT)
SQLALCHEMY = sqlite.DATETIME().bind_processor(DIALECT)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 3, 10, 41, 53, 387793, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 41, 53, tzinfo=UTC),  # no microseconds
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),  # a small year
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2))),  # another zone
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(0), "Z")),  # offset 0, not the UTC object
        datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),  # a named zone
    ],
)
def test_the_text_is_what_sqlalchemy_stores_for_the_utc_time(value):
    assert OURS(value) == SQLALCHEMY(value.astimezone(UTC))


def test_none_and_naive_values():
    assert OURS(None) is None
    with pytest.raises(ValueError):
        OURS(datetime(2026, 12, 3, 10, 0))
