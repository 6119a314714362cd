"""CSAT answers and the experience score.

EEX follows Kolsky's experience index, ``EEX = Σ(Fn·Wn) / n``: each factor ``Fn`` is a 0-100
reading of one group of cases (a process, or a channel), ``Wn`` its weight, and ``n`` the number
of factors that have data for the group and weigh more than 0. Weights of 1 (the default) make it the plain mean of the
factors; weights that average 1 keep it on the 0-100 scale. The factors:

- ``csat``: the group's CSAT answers, ``(score - 1) / 4`` as 0-100;
- ``sentiment``: the enrichment sentiment of the group's customer signals, ``(score + 1) / 2``;
- ``sla``: the share of the group's resolved cases that met their SLA.

A group is cases created in the window; a factor without data there is left out of its ``n``
and shown with ``value`` null, so a channel nobody answered surveys on is not scored as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session, aliased

from engine.cases.models import Case
from engine.db import utcnow
from engine.errors import InvalidInput
from engine.events import service as events
from engine.experience.models import CsatAnswer, ExperienceWeight
from engine.processes.models import ProcessInstanceRecord
from engine.signals.models import Signal

FACTORS: dict[str, str] = {
    "csat": "the group's CSAT answers, (score - 1) / 4, as 0-100",
    "sentiment": "the sentiment of the group's customer signals, (score + 1) / 2, as 0-100",
    "sla": "the share of the group's resolved cases that met their SLA, as 0-100",
}
GROUPINGS = ("process", "channel")
MAX_WEIGHT = 10.0
COMMENT_MAX = 2000
NO_GROUP = "none"


def record_csat(
    session: Session, case: Case, score: int, comment: str | None, *, actor: str
) -> tuple[CsatAnswer, bool]:
    """Records the customer's answer on ``case``; returns it and whether it replaced an earlier one."""
    if not 1 <= score <= 5:
        raise InvalidInput(
            "A CSAT score is 1 to 5.", fields=[{"field": "score", "message": "must be 1 to 5"}]
        )
    if comment is not None and len(comment) > COMMENT_MAX:
        raise InvalidInput(
            f"A CSAT comment is at most {COMMENT_MAX} characters.",
            fields=[{"field": "comment", "message": f"at most {COMMENT_MAX} characters"}],
        )
    answer = csat_of(session, case.id)
    replaced = answer is not None
    if answer is None:
        answer = CsatAnswer(case_id=case.id, score=score, actor=actor)
        session.add(answer)
    answer.score, answer.comment, answer.actor, answer.received_at = score, comment, actor, utcnow()
    events.record(
        session,
        "csat.received",
        case_id=case.id,
        actor=actor,
        data={"score": score, "comment": comment, "replaced": replaced},
    )
    return answer, replaced


def csat_of(session: Session, case_id: str) -> CsatAnswer | None:
    return session.scalar(select(CsatAnswer).where(CsatAnswer.case_id == case_id))


def weights(session: Session) -> dict[str, float]:
    stored = {w.factor: w.weight for w in session.scalars(select(ExperienceWeight))}
    return {factor: stored.get(factor, 1.0) for factor in FACTORS}


def put_weights(session: Session, new: dict[str, float], *, actor: str) -> dict[str, float]:
    """Sets the weights named in ``new`` (the others keep theirs); an ``experience.weights_changed``
    event records before and after."""
    fields = [
        {"field": name, "message": "is not a factor; factors: " + ", ".join(FACTORS)}
        for name in new
        if name not in FACTORS
    ]
    fields += [
        {"field": name, "message": f"must be 0 to {MAX_WEIGHT:g}"}
        for name, w in new.items()
        if name in FACTORS and not 0 <= w <= MAX_WEIGHT
    ]
    before = weights(session)
    after = {**before, **new}
    if not fields and not any(after.values()):
        fields.append({"field": "weights", "message": "at least one factor must weigh more than 0"})
    if fields:
        raise InvalidInput(
            "The experience weights are invalid; fix: " + ", ".join(f["field"] for f in fields) + ".",
            fields=fields,
        )
    for name, w in new.items():
        row = session.get(ExperienceWeight, name)
        if row is None:
            row = ExperienceWeight(factor=name, weight=w, updated_by=actor)
            session.add(row)
        row.weight, row.updated_by, row.updated_at = w, actor, utcnow()
    events.record(session, "experience.weights_changed", actor=actor, data={"before": before, "after": after})
    return after


@dataclass(frozen=True)
class Factor:
    value: float | None  # 0-100, None without data
    weight: float
    count: int  # answers, signals or resolved cases it is read from


@dataclass(frozen=True)
class Group:
    name: str
    cases: int
    eex: float | None
    factors: dict[str, Factor]


def experience(session: Session, by: str, since: datetime, until: datetime) -> list[Group]:
    """EEX per group (``by``: process or channel) of the cases created in ``[since, until)``."""
    if by not in GROUPINGS:
        raise InvalidInput(
            "An experience score is grouped by process or channel.",
            fields=[{"field": "by", "message": "must be one of " + ", ".join(GROUPINGS)}],
        )
    if since >= until:
        raise InvalidInput(
            "since must be before until.", fields=[{"field": "since", "message": "after until"}]
        )
    met = func.sum(case((Case.sla_state == "met", 1), else_=0))
    sentiment = Signal.enrichment["sentiment"]["score"].as_float()
    readings: dict[str, dict[str, tuple[float | None, int]]] = {}
    cases: dict[str, int] = {}
    for name, count in _rows(session, by, since, until, func.count(Case.id), None):
        cases[name] = count
    for name, mean, count in _rows(session, by, since, until, func.avg(CsatAnswer.score), "csat"):
        readings.setdefault(name, {})["csat"] = ((float(mean) - 1) / 4 * 100, count)
    for name, mean, count in _rows(session, by, since, until, func.avg(sentiment), "sentiment"):
        if mean is not None:
            readings.setdefault(name, {})["sentiment"] = ((float(mean) + 1) / 2 * 100, count)
    for name, hits, count in _rows(session, by, since, until, met, "sla"):
        readings.setdefault(name, {})["sla"] = (float(hits) / count * 100, count)
    weight = weights(session)
    groups = []
    for name in sorted(cases):
        factors = {
            f: Factor(round(v, 1) if v is not None else None, weight[f], n)
            for f, (v, n) in ((f, readings.get(name, {}).get(f, (None, 0))) for f in FACTORS)
        }
        scored = [x for x in factors.values() if x.value is not None and x.weight > 0]
        eex = (
            round(sum(x.value * x.weight for x in scored if x.value is not None) / len(scored), 1)
            if scored
            else None
        )
        groups.append(Group(name=name, cases=cases[name], eex=eex, factors=factors))
    return groups


def _rows(
    session: Session,
    by: str,
    since: datetime,
    until: datetime,
    measure: ColumnElement[Any],
    factor: str | None,
) -> list[Any]:
    """``(group, measure[, count])`` rows over the window's cases, joined to what ``factor`` reads."""
    origin = aliased(Signal)
    group: ColumnElement[str] = (
        func.coalesce(ProcessInstanceRecord.process_key, NO_GROUP)
        if by == "process"
        else func.coalesce(origin.source, NO_GROUP)
    )
    columns: list[ColumnElement[Any]] = [group, measure]
    if factor is not None:
        columns.append(func.count())
    stmt: Select[Any] = select(*columns).select_from(Case)
    if factor == "csat":
        stmt = stmt.join(CsatAnswer, CsatAnswer.case_id == Case.id)
    elif factor == "sentiment":
        stmt = stmt.join(Signal, Signal.case_id == Case.id).where(Signal.enrichment.is_not(None))
    elif factor == "sla":
        stmt = stmt.where(Case.resolved_at.is_not(None), Case.sla_state.in_(("met", "breached")))
    if by == "process":
        stmt = stmt.outerjoin(ProcessInstanceRecord, Case.process_instance_id == ProcessInstanceRecord.id)
    else:
        stmt = stmt.outerjoin(origin, Case.origin_signal_id == origin.id)
    stmt = stmt.where(Case.created_at >= since, Case.created_at < until).group_by(group)
    return list(session.execute(stmt))
