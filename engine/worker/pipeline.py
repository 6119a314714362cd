"""What happens to one signal: identify, route, act — in the caller's savepoint.

Enrichment is computed beforehand (it touches no database); everything that
writes happens here, so either all of it is there or none of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import service as cases
from engine.cases import transitions
from engine.cases.models import Case
from engine.customers import service as customers
from engine.db import utcnow
from engine.events import service as events
from engine.processes import instances
from engine.processes.context import acting_for
from engine.routing import service as routing
from engine.signals.models import IGNORED, PROCESSED, Signal
from engine.tasks import service as tasks


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
        _finish(signal, IGNORED)
        return
    if action == "log_only":
        _finish(signal, PROCESSED)
        return
    case = _open_case_of(session, customer.id, context["topic"]) if customer and action == "attach" else None
    if case is None:
        case = open_case(session, signal, decision, context)
    else:
        events.record(
            session,
            "signal.attached",
            case_id=case.id,
            data={"signal_id": signal.id, "source": signal.source},
        )
    signal.case_id = case.id
    _finish(signal, PROCESSED)


def open_case(session: Session, signal: Signal, decision: dict[str, Any], context: dict[str, Any]) -> Case:
    """Opens a case for ``signal`` and starts its process to the first user task."""
    opening = cases.Opening(
        priority=decision["priority"],
        queue=decision["queue"],
        topic=context["topic"],
        title=" ".join(signal.text.split())[:140],
        customer_id=signal.customer_id,
        sla_policy=decision["sla_policy"],
        origin_signal_id=signal.id,
    )
    case = cases.open_case(session, opening, actor="system", rule=decision["rule"])
    events.record(
        session, "signal.attached", case_id=case.id, data={"signal_id": signal.id, "source": signal.source}
    )
    with acting_for(session, case, "system"):
        record, instance = instances.start(
            session,
            decision["process_key"],
            {
                "case_id": case.id,
                "priority": case.priority,
                "queue": case.queue,
                "topic": case.topic,
                "intent": context["intent"],
                "sentiment": context["sentiment"],
                "source": signal.source,
            },
        )
    case.process_instance_id = record.id
    tasks.sync(session, case, record, instance, new=True)
    return case


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


def _finish(signal: Signal, status: str) -> None:
    signal.status = status
    signal.error = None
    signal.processed_at = utcnow()
