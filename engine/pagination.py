"""Keyset pagination with opaque cursors: stable under inserts, index-friendly."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.db import UTCDateTime
from engine.errors import EngineError


class InvalidCursor(EngineError):
    status = 400

    def __init__(self) -> None:
        super().__init__("The cursor is not one this server gave out; start again without it.")


def encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode(cursor: str, columns: list[tuple[InstrumentedAttribute[Any], bool]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as err:
        raise InvalidCursor() from err
    if not isinstance(raw, list) or len(raw) != len(columns):
        raise InvalidCursor()
    values: list[Any] = []
    for value, (col, _desc) in zip(raw, columns, strict=True):
        if value is None:
            raise InvalidCursor()
        if isinstance(col.type, UTCDateTime | DateTime):
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError) as err:
                raise InvalidCursor() from err
        values.append(value)
    return values


def page(
    stmt: Select[Any],
    columns: list[tuple[InstrumentedAttribute[Any], bool]],
    cursor: str | None,
) -> Select[Any]:
    """Orders ``stmt`` by ``columns`` ((column, descending) pairs; non-null, last one unique)
    and starts after ``cursor``."""
    stmt = stmt.order_by(*[col.desc() if desc else col.asc() for col, desc in columns])
    if not cursor:
        return stmt
    values = decode(cursor, columns)
    branches = []
    for i, (col, desc) in enumerate(columns):
        equal = [c == v for (c, _d), v in zip(columns[:i], values[:i], strict=True)]
        beyond = col < values[i] if desc else col > values[i]
        branches.append(and_(*equal, beyond))
    return stmt.where(or_(*branches))


def next_cursor(row: Any, columns: list[tuple[InstrumentedAttribute[Any], bool]]) -> str:
    return encode([getattr(row, col.key) for col, _desc in columns])


def fetch(
    session: Session,
    stmt: Select[Any],
    columns: list[tuple[InstrumentedAttribute[Any], bool]],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt``'s rows in ``columns`` order after ``cursor``, and the cursor of the
    next page (None on the last): one row more than ``limit`` is read to know there is one."""
    rows = list(session.scalars(page(stmt, columns, cursor).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, next_cursor(rows[-1], columns) if more and rows else None
