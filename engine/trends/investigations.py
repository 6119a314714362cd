"""One investigation per topic: opened by a topic's spike, joined by later spikes as evidence,
parent of the topic's reactive cases while it is open.

The investigation opens through the case's one flow (``flows.open``) running the shipped
``trend_investigation`` process. "One open investigation per topic" is the partial unique index
``uq_cases_open_investigation_topic``: of two detections racing on one topic (two workers on
PostgreSQL), the second insert fails on it, its savepoint rolls back, and that spike joins the
winner's investigation as evidence instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.cases import flows, transitions
from engine.cases import service as cases
from engine.cases.models import OPEN_INVESTIGATION, Case
from engine.config import get_settings
from engine.events import service as events
from engine.trends.models import Trend

PROCESS_KEY = "trend_investigation"
INVESTIGATION = "investigation"
LIVE = (transitions.OPEN, transitions.WAITING)
ACTOR = "trends"
_OPEN_BY_TOPIC = "sift.trends.open_investigations"  # session.info: topic -> open investigation id


def priority_for(severity: int) -> str:
    """Severity 9-10 urgent, 7-8 high, 4-6 normal, 1-3 low."""
    if severity >= 9:
        return "urgent"
    if severity >= 7:
        return "high"
    return "normal" if severity >= 4 else "low"


def find_open(session: Session, topic: str, *, lock: bool = False) -> Case | None:
    stmt = select(Case).where(Case.kind == INVESTIGATION, Case.topic == topic, Case.status.in_(LIVE))
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def on_spike(session: Session, trend: Trend) -> tuple[Case, bool]:
    """The investigation of the spike's topic (opened now, or the open one, which records the
    spike as evidence); returns it and whether it was opened now. The topic's open reactive cases
    become its children."""
    topic = trend.topic or trend.key
    found = find_open(session, topic, lock=True)
    opened = False
    if found is None:
        found = _try_open(session, trend, topic)
        opened = found is not None
        if found is None:  # another worker's detection opened it first
            found = find_open(session, topic, lock=True)
            if found is None:
                raise RuntimeError(f"no open investigation on {topic!r} after a conflicting insert")
    trend.case_id = found.id
    trend.attached = not opened
    if not opened:
        _attach(session, found, trend)
    linked = adopt(session, found)
    session.info.setdefault(_OPEN_BY_TOPIC, {})[topic] = found.id
    events.record(
        session, "trend.detected", case_id=found.id, actor=ACTOR, data={**describe(trend), "linked": linked}
    )
    return found, opened


def _try_open(session: Session, trend: Trend, topic: str) -> Case | None:
    settings = get_settings()
    opening = cases.Opening(
        priority=priority_for(trend.severity),
        queue=settings.trend_queue,
        topic=topic,
        title=(
            f"Trend on {topic}: {trend.volume} mentions in {_minutes(trend)} min "
            f"(expected {trend.baseline:.0f}), severity {trend.severity}"
        ),
        customer_id=None,
        sla_policy=settings.trend_sla_policy,
        kind=INVESTIGATION,
    )
    seed = {
        "trend_id": trend.id,
        "severity": trend.severity,
        "volume": trend.volume,
        "baseline": trend.baseline,
        "score": trend.score,
        "negative_share": trend.negative_share,
    }
    events.write_pending(session)  # what came before stays, whatever the savepoint does
    before = len(events.pending(session))
    try:
        with session.begin_nested():
            case = flows.open(
                session,
                opening,
                process_key=PROCESS_KEY,
                seed=seed,
                actor=ACTOR,
                rule=f"trend {trend.id}: {trend.series} scored {trend.score:g}",
            )
            session.flush()
    except IntegrityError:
        del events.pending(session)[before:]
        return None
    return case


def _attach(session: Session, case: Case, trend: Trend) -> None:
    """A later spike on the topic: evidence on the open investigation, whose priority rises to
    the spike's if that is higher."""
    events.record(session, "trend.attached", case_id=case.id, actor=ACTOR, data=describe(trend))
    wanted = priority_for(trend.severity)
    if transitions.PRIORITY_RANK[wanted] < transitions.PRIORITY_RANK[case.priority]:
        cases.update_fields(session, case, {"priority": wanted}, actor=ACTOR)


def adopt(session: Session, parent: Case) -> int:
    """The topic's open or waiting reactive cases without a parent become ``parent``'s children."""
    stmt = select(Case).where(
        Case.kind == "reactive",
        Case.topic == parent.topic,
        Case.status.in_(LIVE),
        Case.parent_id.is_(None),
    )
    children = list(session.scalars(stmt))
    for child in children:
        cases.set_parent(
            session, child, parent, actor=ACTOR, data={"topic": parent.topic, "via": "detection"}
        )
    return len(children)


def link_new_case(session: Session, case: Case) -> None:
    """A reactive case opened while its topic's investigation is open becomes its child. The open
    investigations are read once per transaction (a worker batch opens hundreds of cases)."""
    if case.kind != "reactive" or not case.topic:
        return
    open_by_topic: dict[str, str] | None = session.info.get(_OPEN_BY_TOPIC)
    if open_by_topic is None:
        # the partial index's own predicate, written out, so the planner may read that index
        # (PostgreSQL; SQLite once ANALYZE has run) instead of every open case of every kind
        stmt = select(Case.topic, Case.id).where(text(OPEN_INVESTIGATION), Case.topic.is_not(None))
        open_by_topic = {topic: case_id for topic, case_id in session.execute(stmt) if topic}
        session.info[_OPEN_BY_TOPIC] = open_by_topic
    parent_id = open_by_topic.get(case.topic)
    if parent_id is None:
        return
    parent = session.get(Case, parent_id)
    if parent is None or parent.status not in LIVE:
        return
    cases.set_parent(session, case, parent, actor=ACTOR, data={"topic": case.topic, "via": "opened"})


def describe(trend: Trend) -> dict[str, Any]:
    return {
        "trend_id": trend.id,
        "series": trend.series,
        "detected_at": trend.detected_at.isoformat(),
        "volume": trend.volume,
        "baseline": trend.baseline,
        "score": trend.score,
        "negative_share": trend.negative_share,
        "severity": trend.severity,
    }


def _minutes(trend: Trend) -> int:
    return int((trend.detected_at - trend.window_start).total_seconds() // 60)
