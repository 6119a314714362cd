"""Routing: the deployed ``routing`` DMN table decides what a signal does.

Every routed signal keeps the rule that fired, named with the table's
version, so "why did this open a P1?" has an answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine import runtime
from engine.errors import InvalidInput, ProcessError
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
        "language": enrichment.get("language") or "und",
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


def compare(session: Session, context: dict[str, Any], draft_xml: bytes | None) -> dict[str, Any]:
    """Which rule fires for ``context`` with the deployed routing table and with ``draft_xml``
    (a routing table not stored yet; validated as an upload would be, 422 naming each problem)."""
    version = definitions.deployed(session, ROUTING_KEY)
    out: dict[str, Any] = {
        "context": context,
        "deployed": {"version": version.version, **_fired(definitions.compiled(version), context)},
        "draft": None,
    }
    if draft_xml is not None:
        parsed = runtime.parse_definition(draft_xml, "draft.dmn")
        if parsed.kind != "dmn" or parsed.key != ROUTING_KEY:
            raise InvalidInput(
                f"The draft is the {parsed.kind.upper()} {parsed.key!r}, not the routing table; "
                f"its decision id must be {ROUTING_KEY!r}.",
                fields=[{"field": "xml", "message": f"decision id must be {ROUTING_KEY!r}"}],
            )
        out["draft"] = {"version": None, **_fired(runtime.compile_decision(draft_xml), context)}
    return out


def _fired(decision: Any, context: dict[str, Any]) -> dict[str, Any]:
    result = decision.evaluate(dict(context))
    return {
        "matched": bool(result.outputs),
        "rule_id": result.rule_id,
        "rule_index": result.rule_index,
        "rule_description": result.rule_description,
        "outputs": dict(result.outputs),
    }
