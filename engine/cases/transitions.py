"""The allowed case status moves, in one table."""

from __future__ import annotations

OPEN, WAITING, RESOLVED, CLOSED = "open", "waiting", "resolved", "closed"
STATUSES = (OPEN, WAITING, RESOLVED, CLOSED)

ALLOWED: dict[str, frozenset[str]] = {
    OPEN: frozenset({WAITING, RESOLVED, CLOSED}),
    WAITING: frozenset({OPEN, RESOLVED, CLOSED}),
    RESOLVED: frozenset({OPEN, CLOSED}),  # resolved -> open is a reopen
    CLOSED: frozenset(),
}

PRIORITIES = ("urgent", "high", "normal", "low")
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}


def can_move(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
