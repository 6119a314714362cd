"""What a policy would promise a case opened at a given time, so a calendar can be checked first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InvalidInput
from engine.sla import clock
from engine.sla.models import SlaPolicy
from engine.sla.policies import PRIORITIES, Policy, require


@dataclass(frozen=True)
class Preview:
    policy: Policy
    priority: str
    opened_at: datetime
    targets: dict[str, clock.Due]


def preview(session: Session, body: dict[str, Any]) -> Preview:
    """The due and warning times of every target of ``priority`` under ``policy`` from ``opened_at``.

    ``opened_at`` defaults to now; every bad field is reported at once, nothing is written."""
    problems: list[dict[str, str]] = []
    name, priority = body.get("policy"), body.get("priority")
    if not isinstance(name, str) or session.get(SlaPolicy, name) is None:
        problems.append({"field": "policy", "message": "must name an SLA policy (GET /api/v1/sla/policies)"})
    if priority not in PRIORITIES:
        problems.append({"field": "priority", "message": f"must be one of {', '.join(PRIORITIES)}"})
    opened_at = _instant(body.get("opened_at"), problems)
    if problems or opened_at is None:
        names = ", ".join(p["field"] for p in problems)
        raise InvalidInput(f"The preview request has invalid fields: {names}.", fields=problems)
    policy = require(session, str(name))
    return Preview(policy, str(priority), opened_at, clock.targets(policy, str(priority), opened_at))


def _instant(value: Any, problems: list[dict[str, str]]) -> datetime | None:
    if value is None:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None or not 1970 <= parsed.year <= 9000:
        problems.append(
            {
                "field": "opened_at",
                "message": "must be an ISO 8601 time with a zone between the years 1970 and 9000, e.g. 2026-06-05T16:30:00+02:00",
            }
        )
        return None
    return parsed
