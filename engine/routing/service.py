"""Routing: the deployed ``routing`` DMN table decides what a signal does.

Every routed signal keeps the rule that fired, named with the table's
version, so "why did this open a P1?" has an answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.errors import ProcessError
from engine.processes import service as definitions

ROUTING_KEY = "routing"
ACTIONS = ("open_case", "attach", "ignore", "log_only")


class RoutingUndecided(ProcessError):
    def __init__(self, version: int) -> None:
        super().__init__(
            f"The routing table (version {version}) has no rule for this signal; "
            "add a catch-all last rule so every signal gets a decision."
        )


def context_for(
    enrichment: dict[str, Any], *, source: str, influence: float, value_tier: str | None
) -> dict[str, Any]:
    return {
        "intent": enrichment.get("intent") or "other",
        "sentiment": (enrichment.get("sentiment") or {}).get("label") or "neutral",
        "sentiment_score": float((enrichment.get("sentiment") or {}).get("score") or 0.0),
        # enrichments stored before the complaint model carry no score: they read as 0
        "complaint_score": float(enrichment.get("complaint_score") or 0.0),
        "urgency": enrichment.get("urgency") or "normal",
        "topics": list(enrichment.get("topics") or []),
        "topic": (enrichment.get("topics") or ["general"])[0],
        "influence": float(influence),
        "value_tier": value_tier or "standard",
        "source": source,
    }


def route(session: Session, context: dict[str, Any]) -> dict[str, Any]:
    """Evaluates the deployed routing table; returns action, priority, queue, SLA policy,
    process key and the rule that fired."""
    version = definitions.deployed(session, ROUTING_KEY)
    decision = definitions.compiled(version)
    result = decision.evaluate(context)
    if not result.outputs:
        raise RoutingUndecided(version.version)
    outputs = dict(result.outputs)
    action = outputs.get("action")
    if action not in ACTIONS:
        raise ProcessError(
            f"Routing table version {version.version} answered action {action!r}; "
            f"its action outputs must be one of {', '.join(ACTIONS)}."
        )
    label = result.rule_description or result.rule_id or f"rule {result.rule_index}"
    return {
        "action": action,
        "priority": outputs.get("priority") or "normal",
        "queue": outputs.get("queue") or "care",
        "sla_policy": outputs.get("sla_policy") or "default",
        "process_key": outputs.get("process_key") or "reactive_case",
        "rule": f"routing v{version.version} · {result.rule_id or result.rule_index}: {label}",
        "rule_id": result.rule_id,
        "table_version": version.version,
    }
