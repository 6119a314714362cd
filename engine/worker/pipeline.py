"""What happens to one signal: dedupe, suppress, identify, route, act — in the caller's savepoint.

Enrichment is computed beforehand (it touches no database); everything that
writes happens here, so either all of it is there or none of it. A new case and
its process are opened by the case's own flow (``engine/cases/flows.py``).

In order:
1. the same text from the same author within ``duplicate_window_seconds`` is recorded once:
   later copies carry ``duplicate_of`` naming the first; they are ``processed`` into the first's
   case (no second message into its process) when it has one, else ``ignored``;
2. a signal an active suppression rule matches is ``ignored`` with the rule named;
3. a reply (``in_reply_to``) whose parent is not handled yet is ``buffered``; it is handled
   when the parent is, or alone when ``reply_buffer_seconds`` pass;
4. the routing table decides (the rule that fired is kept on the signal and the timeline); a
   signal routing does not ignore counts in its trend series (``engine/trends/counting.py``);
5. a reply joins its parent's case, and a new mention by the same customer on the same topic
   joins their open case, as a message into its process; a resolved case reopens within
   ``reopen_window_seconds``; otherwise routing's ``open_case`` opens a new case (a child of its
   topic's open investigation, if there is one).

Queries here see rows flushed earlier; within a batch (handled without a flush) the cases this
transaction opened are found through ``session.info`` (as ``customers.identify`` does).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from engine import nlp
from engine.cases import flows, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.config import get_settings
from engine.customers import service as customers
from engine.customers.models import Customer
from engine.db import utcnow
from engine.errors import InvalidInput, NotFound
from engine.events import service as events
from engine.routing import service as routing
from engine.signals import service as signals
from engine.signals import suppression
from engine.signals.models import BUFFERED, IGNORED, PROCESSED, Signal
from engine.trends import counting as trend_counts
from engine.trends import investigations

_OPENED = "sift.pipeline.opened"  # session.info: cases opened in this transaction, by id
_CASES_OF = "sift.pipeline.cases_of"  # session.info: live and lately resolved cases, by customer id
_OPENED_FOR = "sift.pipeline.opened_for"  # session.info: the cases of _OPENED, by their customer id
LIVE = (transitions.OPEN, transitions.WAITING)


def handle(session: Session, signal: Signal, enrichment: dict[str, Any]) -> None:
    settings = get_settings()
    signal.enrichment = enrichment
    first = signals.first_of_burst(session, signal, timedelta(seconds=settings.duplicate_window_seconds))
    if first is not None:
        _record_duplicate(session, signal, first, settings.duplicate_window_seconds)
        # a reply to the copy waited for it: the copy is handled now (into the first's case, if any)
        _release_replies(session, signal)
        return
    muted = suppression.matching(session, signal, enrichment)
    if muted is not None:
        signal.routing = {
            "action": "ignore",
            "rule": suppression.label(muted),
            "rule_id": f"suppression:{muted.id}",
        }
        signals.settle(signal, IGNORED)
        _release_replies(session, signal)
        return
    parent = signals.parent_of(session, signal)
    waited = signal.status == BUFFERED  # claimed again: its buffer window is over
    if signal.in_reply_to and not waited and (parent is None or parent.status in signals.HANDLING):
        signals.buffer(session, signal, utcnow() + timedelta(seconds=settings.reply_buffer_seconds))
        return
    customer = customers.identify(session, signal.source, signal.author or {})
    signal.customer_id = customer.id if customer else None
    context = routing.context_for(
        enrichment,
        source=signal.source,
        influence=customer.influence if customer else 0.0,
        value_tier=customer.value_tier if customer else None,
    )
    decision = routing.route(session, context)
    if waited and parent is None:
        decision["note"] = f"the parent {signal.in_reply_to!r} did not arrive within the buffer window"
    signal.routing = decision
    if decision["action"] != "ignore":  # spam and noise make no trend
        trend_counts.count(session, signal, enrichment)
    new_customer = customer is not None and inspect(customer).pending
    _act(session, signal, decision, context, parent, new_customer=new_customer)
    _release_replies(session, signal)


def _act(
    session: Session,
    signal: Signal,
    decision: dict[str, Any],
    context: dict[str, Any],
    parent: Signal | None,
    *,
    new_customer: bool,
) -> None:
    action = decision["action"]
    if action == "ignore":
        signals.settle(signal, IGNORED)
        return
    reopen_window = timedelta(seconds=get_settings().reopen_window_seconds)
    rule = decision["rule"]
    thread = _case(session, parent.case_id) if parent is not None and parent.case_id else None
    if thread is not None and thread.status in LIVE:
        _attach(session, signal, thread, via="reply", rule=rule)
        return
    if thread is not None and _within(thread, reopen_window):
        if action == "log_only":  # a "thanks!" after the resolution joins the thread, reopens nothing
            events.record(
                session,
                "signal.attached",
                case_id=thread.id,
                actor="customer",
                data={"signal_id": signal.id, "via": "reply", "reopened": False, "rule": rule},
            )
            signals.settle(signal, PROCESSED, case_id=thread.id)
            return
        flows.reopen(session, thread, signal.id, via="reply", rule=rule)
        signals.settle(signal, PROCESSED, case_id=thread.id)
        return
    customer_id, topic = signal.customer_id, context["topic"]
    live, resolved = (
        _cases_of(session, customer_id, topic, reopen_window, stored=not new_customer)
        if customer_id
        else (None, None)
    )
    if live is not None:
        _attach(session, signal, live, via="topic", rule=rule)
        return
    if action == "log_only":
        signals.settle(signal, PROCESSED)
        return
    if resolved is not None:
        flows.reopen(session, resolved, signal.id, via="topic", rule=rule)
        signals.settle(signal, PROCESSED, case_id=resolved.id)
        return
    case = open_case(session, signal, decision, context)
    events.record(
        session, "signal.attached", case_id=case.id, data={"signal_id": signal.id, "source": signal.source}
    )
    signals.settle(signal, PROCESSED, case_id=case.id)


def _attach(session: Session, signal: Signal, case: Case, *, via: str, rule: str) -> None:
    if case in session.new:  # opened earlier in this batch: its process is loaded from its row
        session.flush()
    flows.customer_message(session, case, signal.id, via=via, rule=rule)
    signals.settle(signal, PROCESSED, case_id=case.id)


def _record_duplicate(session: Session, signal: Signal, first: Signal, window_seconds: float) -> None:
    window = f"{window_seconds / 3600:g} h" if window_seconds >= 3600 else f"{window_seconds:g} s"
    signal.routing = {
        "action": "attach" if first.case_id else "ignore",
        "rule": f"duplicate of signal {first.id}: the same text from the same author within {window}",
        "rule_id": "duplicate",
    }
    # with a case the copy is accounted for there (its timeline says so); without one it is kept, ignored
    status = PROCESSED if first.case_id else IGNORED
    signals.settle(signal, status, case_id=first.case_id, duplicate_of=first.id)
    if first.case_id:
        events.record(
            session,
            "signal.duplicate",
            case_id=first.case_id,
            data={"signal_id": signal.id, "duplicate_of": first.id},
        )


def _release_replies(session: Session, parent: Signal) -> None:
    """Handles the replies that waited for ``parent``, now that it is handled."""
    for reply in signals.buffered_replies(session, parent):
        handle(session, reply, reply.enrichment or nlp.enrich(reply.text, reply.author or {}))


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
    case = flows.open(
        session,
        opening,
        process_key=decision["process_key"],
        seed=seed,
        actor="system",
        rule=decision["rule"],
    )
    session.info.setdefault(_OPENED, {})[case.id] = case
    if case.customer_id is not None:
        session.info.setdefault(_OPENED_FOR, {}).setdefault(case.customer_id, []).append(case)
    investigations.link_new_case(session, case)  # under its topic's open investigation, if any
    return case


def _case(session: Session, case_id: str) -> Case | None:
    """The case by id (one this transaction opened, too); a merged case answers with the case it
    was merged into, where its conversation goes on."""
    found = session.info.get(_OPENED, {}).get(case_id)
    if found is not None and found in session:
        return found
    case = session.get(Case, case_id)
    return cases.surviving(session, case) if case is not None else None


def prefetch_cases(session: Session, customer_ids: list[str], window: timedelta) -> None:
    """Loads the live cases of many customers, those resolved within ``window`` and those merged
    into another, in one query (a worker batch), so :func:`_cases_of` needs no query of its own
    for them."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    stmt = select(Case).where(
        Case.customer_id.in_(ids),
        Case.status.in_(LIVE)
        | ((Case.status == transitions.RESOLVED) & (Case.resolved_at >= utcnow() - window))
        | Case.merged_into.is_not(None),
    )
    cases_of: dict[str, list[Case]] = session.info.setdefault(_CASES_OF, {})
    for customer_id in ids:
        cases_of[customer_id] = []
    for case in session.scalars(stmt):
        if case.customer_id is not None:  # always: the query matched it by customer
            cases_of[case.customer_id].append(case)


def _cases_of(
    session: Session, customer_id: str, topic: str, window: timedelta, *, stored: bool
) -> tuple[Case | None, Case | None]:
    """The customer's newest open or waiting case on ``topic``, and their case on it resolved
    most recently if within ``window``; a case merged into another counts as that one. One query
    (and one per merged case), none for a customer new in this transaction (``stored`` false:
    their cases, if any, were opened in it too) or one whose cases :func:`prefetch_cases` loaded."""
    found: list[Case] = []
    prefetched = session.info.get(_CASES_OF, {}).get(customer_id)
    if prefetched is not None:
        for row in prefetched:
            case = cases.surviving(session, row) if row.topic == topic and row in session else None
            if case is not None and case not in found:
                found.append(case)
    elif stored:
        stmt = (
            select(Case)
            .where(
                Case.customer_id == customer_id,
                Case.topic == topic,
                or_(Case.status.in_((*LIVE, transitions.RESOLVED)), Case.merged_into.is_not(None)),
            )
            .order_by(Case.created_at.desc())
            .limit(20)
        )
        for row in session.scalars(stmt):  # a merged case stands for the one it went into
            case = cases.surviving(session, row)
            if case not in found:
                found.append(case)
    # those this transaction opened for the customer and still holds (a rolled-back savepoint
    # drops its own), looked up by customer: a batch opens hundreds
    found += [
        c
        for c in session.info.get(_OPENED_FOR, {}).get(customer_id, ())
        if c in session and c.customer_id == customer_id and c.topic == topic and c not in found
    ]
    live = max((c for c in found if c.status in LIVE), key=lambda c: c.created_at, default=None)
    resolved = [c for c in found if _within(c, window)]
    return live, max(resolved, key=lambda c: c.resolved_at or c.created_at, default=None)


def _within(case: Case, window: timedelta, now: datetime | None = None) -> bool:
    """Whether a resolved ``case`` may still reopen."""
    if case.status != transitions.RESOLVED or case.resolved_at is None:
        return False
    return (now or utcnow()) - case.resolved_at <= window


def routing_context_of(session: Session, signal_id: str) -> dict[str, Any]:
    """The routing inputs a stored signal was (or would now be) routed with: its enrichment, its
    source and its customer's influence and value tier (what ``handle`` gives the table)."""
    signal = session.get(Signal, signal_id)
    if signal is None:
        raise NotFound("signal", signal_id)
    if not signal.enrichment:
        raise InvalidInput(
            f"The signal {signal_id!r} is not enriched yet (status {signal.status}); pick a processed one.",
            fields=[{"field": "signal_id", "message": "not enriched yet"}],
        )
    customer = session.get(Customer, signal.customer_id) if signal.customer_id else None
    return routing.context_for(
        signal.enrichment,
        source=signal.source,
        influence=customer.influence if customer else 0.0,
        value_tier=customer.value_tier if customer else None,
    )
