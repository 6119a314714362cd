"""What the case page shows, read in the request's one session: the case document as the API
gives it, the conversation (the customer's mentions and our replies with their delivery status),
the customer's 360 view, why the case was routed as it was, the SLA clocks, the timeline and the
open task's form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api.cases import views
from api.cases.schemas import CaseOut
from api.web import forms
from engine.canned import service as canned
from engine.canned import templates
from engine.cases import comments, links, merge
from engine.cases import service as cases
from engine.cases.models import Case
from engine.customers import service as customers
from engine.delivery import replies
from engine.events import service as events
from engine.signals import service as signals
from engine.signals.models import Signal
from engine.tasks import service as tasks
from engine.trends import insights

RECENT_MENTIONS = 5
COMMENTS_SHOWN = 200
CHILDREN_SHOWN = 8
TRENDS_SHOWN = 5
#: link types a person may add, as the API takes them (what the other case is to this one)
LINK_TYPES = ("related", "duplicate_of", "parent", "child")


@dataclass(frozen=True)
class Message:
    kind: str  # mention | reply
    at: datetime
    text: str
    source: str
    author: str | None
    sentiment: str | None = None
    status: str | None = None
    held_reason: str | None = None
    last_error: str | None = None
    canned: bool = False  # a reply sent as a canned reply, unedited


@dataclass(frozen=True)
class Clock:
    label: str
    due: datetime | None
    done: str | None = None


def build(session: Session, case: Case) -> dict[str, Any]:
    doc = views.detail(session, case)
    rows = signals.for_case(session, case.id)
    task = next(iter(tasks.for_case(session, case.id)), None)
    defaults = {"priority": case.priority, "topic": case.topic} | (task.data if task else {})
    return {
        "case": doc,
        "thread": _thread(session, case, rows),
        "customer": _customer(session, doc),
        "why": _why(case, rows),
        "clocks": _clocks(case),
        "timeline": [
            _line(e, case.id)
            for e in events.timeline(session, case.id, also=merge.merged_into(session, case.id))
        ],
        "task": task,
        "writing": views.writing_of(task) if task else None,
        "fields": forms.fields(task.form, defaults) if task else [],
        "comments": comments.for_case(session, case.id, limit=COMMENTS_SHOWN)[0],
        "links": links.for_case(session, case.id),
        "link_types": LINK_TYPES,
        "canned": canned.list_replies(session) if task and _asks_reply(task.form) else [],
        "canned_supplied": sorted(templates.SUPPLIED),
        **_investigation(session, case, doc.children.total),
    }


def _investigation(session: Session, case: Case, children: int) -> dict[str, Any]:
    """The investigation the case belongs to (its parent), the cases under it (an investigation's
    children, the nearest SLA first) and the trend spikes that opened or joined the one of the
    two that is an investigation."""
    parent = session.get(Case, case.parent_id) if case.parent_id else None
    under = cases.list_cases(session, cases.CaseFilter(parent_id=case.id), limit=CHILDREN_SHOWN)[0]
    investigation = case if case.kind == "investigation" else parent
    spikes = (
        insights.list_trends(session, insights.TrendFilter(case_id=investigation.id), limit=TRENDS_SHOWN)[0]
        if investigation is not None
        else []
    )
    return {
        "parent": parent,
        "children": [views.summary(c) for c in under] if children else [],
        "trend_case": investigation,
        "trends": spikes,
    }


def _asks_reply(form: dict[str, Any]) -> bool:
    """A form with a reply field: canned replies may fill it."""
    return "reply" in (form.get("properties") or {})


def _thread(session: Session, case: Case, rows: list[Signal]) -> list[Message]:
    messages = [
        Message(
            kind="mention",
            at=s.received_at,
            text=s.text,
            source=s.source,
            author=str((s.author or {}).get("handle") or (s.author or {}).get("name") or "customer"),
            sentiment=((s.enrichment or {}).get("sentiment") or {}).get("label"),
        )
        for s in rows
    ]
    messages += [
        Message(
            kind="reply",
            at=r.created_at,
            text=r.text,
            source=r.channel,
            author=r.actor,
            status=r.status,
            held_reason=r.held_reason,
            last_error=r.last_error,
            canned=r.canned_reply_id is not None,
        )
        for r in replies.list_replies(session, case_id=case.id, status=None, limit=500)
    ]
    return sorted(messages, key=lambda m: m.at)


def _customer(session: Session, doc: CaseOut) -> dict[str, Any] | None:
    if doc.customer is None:
        return None
    profile = customers.profile(session, doc.customer.id, signal_limit=RECENT_MENTIONS)
    return doc.customer.model_dump() | {
        "lifetime_value": profile.customer.lifetime_value,
        "recent": profile.signals,
    }


def _why(case: Case, rows: list[Signal]) -> dict[str, Any] | None:
    origin = next((s for s in rows if s.id == case.origin_signal_id), rows[0] if rows else None)
    if origin is None:
        return None
    enrichment, routing = origin.enrichment or {}, origin.routing or {}
    return {
        "rule": routing.get("rule"),
        "queue": routing.get("queue"),
        "priority": routing.get("priority"),
        "sla_policy": routing.get("sla_policy"),
        "intent": enrichment.get("intent"),
        "complaint_score": enrichment.get("complaint_score"),
        "sentiment": (enrichment.get("sentiment") or {}).get("label"),
        "urgency": enrichment.get("urgency"),
        "topics": enrichment.get("topics") or [],
        "entities": enrichment.get("entities") or [],
        "cues": enrichment.get("cues") or [],
    }


def _clocks(case: Case) -> list[Clock]:
    first = Clock(
        "First response",
        case.first_response_due_at,
        done=f"answered {case.first_response_at:%m-%d %H:%M}" if case.first_response_at else None,
    )
    clocks = [first]
    if case.next_response_due_at:
        clocks.append(Clock("Next response", case.next_response_due_at))
    resolved = f"resolved {case.resolved_at:%m-%d %H:%M}" if case.resolved_at else None
    paused = "paused" if case.sla_paused and not resolved else None
    clocks.append(Clock("Resolution", case.resolution_due_at, done=resolved or paused))
    for target, stage in sorted((case.sla_stages or {}).items()):
        due = stage.get("due") if isinstance(stage, dict) else None
        clocks.append(
            Clock(f"Stage {target.split(':', 1)[-1]}", datetime.fromisoformat(due) if due else None)
        )
    return clocks


def _line(event: Any, case_id: str) -> dict[str, Any]:
    """A timeline line with a short summary of its data: names and codes, never message text."""
    data = event.data or {}
    keep = (
        "from",
        "to",
        "target",
        "assignee",
        "priority",
        "queue",
        "topic",
        "rule",
        "strategy",
        "code",
        "into",
    )
    summary = ", ".join(f"{k}: {data[k]}" for k in keep if isinstance(data.get(k), str | int))
    canned = data.get("canned_reply")
    if isinstance(canned, dict) and canned.get("name"):
        summary = ", ".join(filter(None, (summary, f"canned reply: {canned['name']}")))
    if event.case_id != case_id:
        summary = f"(merged case {event.case_id}) {summary}"
    return {"at": event.at, "type": event.type, "actor": event.actor, "summary": summary}
