"""What happens to one signal: identify, route, act — in the caller's savepoint.

Enrichment is computed beforehand (it touches no database); everything that
writes happens here, so either all of it is there or none of it. A new case and
its process are opened by the case's own flow (``engine/cases/flows.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import flows, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.customers import service as customers
from engine.events import service as events
from engine.routing import service as routing
from engine.signals import service as signals
from engine.signals.models import IGNORED, PROCESSED, Signal


def handle(session: Session, signal: Signal, enrichment: dict[str, Any]) -> None:
    customer = customers.identify(session, signal.source, signal.author or {})
    context = routing.context_for(
        enrichment,
        source=signal.source,
        influence=customer.influence if customer else 0.0,
        value_tier=customer.value_tier if customer else None,
    )
    decision = routing.route(session, context)
    signal.enrichment = enrichment
    signal.routing = decision
    signal.customer_id = customer.id if customer else None
    action = decision["action"]
    if action == "ignore":
        signals.settle(signal, IGNORED)
        return
    if action == "log_only":
        signals.settle(signal, PROCESSED)
        return
    case = _open_case_of(session, customer.id, context["topic"]) if customer and action == "attach" else None
    if case is None:
        case = open_case(session, signal, decision, context)
    events.record(
        session, "signal.attached", case_id=case.id, data={"signal_id": signal.id, "source": signal.source}
    )
    signals.settle(signal, PROCESSED, case_id=case.id)


def open_case(session: Session, signal: Signal, decision: dict[str, Any], context: dict[str, Any]) -> Case:
    """Opens the case routing decided for ``signal``, its process started to the first user task."""
    opening = cases.Opening(
        priority=decision["priority"],
        queue=decision["queue"],
        topic=context["topic"],
        title=" ".join(signal.text.split())[:140],
        customer_id=signal.customer_id,
        sla_policy=decision["sla_policy"],
        origin_signal_id=signal.id,
        influence=context.get("influence"),
        value_tier=context.get("value_tier"),
    )
    seed = {"intent": context["intent"], "sentiment": context["sentiment"], "source": signal.source}
    return flows.open(
        session,
        opening,
        process_key=decision["process_key"],
        seed=seed,
        actor="system",
        rule=decision["rule"],
    )


def _open_case_of(session: Session, customer_id: str, topic: str) -> Case | None:
    stmt = (
        select(Case)
        .where(
            Case.customer_id == customer_id,
            Case.topic == topic,
            Case.status.in_((transitions.OPEN, transitions.WAITING)),
        )
        .order_by(Case.created_at.desc())
        .limit(1)
    )
    return session.scalar(stmt)
