"""Change requests (see the package): opened by an investigation's ``request_change`` step,
tested by replaying the investigation's linked signals against a version, approved by a process
owner, and deployed through the processes API, which lets the investigation close.

A replay test opens, for each linked signal, the case it would open today (routed by the
deployed routing table) under the tested version and under the deployed version, each in a
savepoint that is rolled back (``flows.dry_run``): no case, instance, task, timer or event of it
stays. It reports where each would wait and its SLA clocks, and whether the real case's first
response and resolution met them. The same test runs without a change request over a
process's most recent cases (``replay_recent``): what the workbench runs on a draft version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.cases import flows
from engine.cases import service as cases
from engine.cases.models import Case
from engine.changes.models import APPROVED, DEPLOYED, REQUESTED, ChangeRequest
from engine.customers import service as customers
from engine.db import utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events
from engine.processes import service as definitions
from engine.processes.models import DRAFT, ProcessDefinition, ProcessInstanceRecord
from engine.routing import service as routing
from engine.signals.models import Signal
from engine.tasks.models import Task
from engine.trends.investigations import INVESTIGATION

REQUEST_CHANGE = "request_change"
CHANGE_DEPLOYED = "change_deployed"  # the BPMN message the investigation's change step waits for
MAX_REPLAYED = 200  # linked signals one replay test runs (the oldest first)
RECENT_REPLAYED = 50  # a history replay's default share of a process's most recent cases
SLA_TARGETS = ("first_response", "resolution")


class NotTested(Conflict):
    def __init__(self, request_id: str, version: int, tested: int | None) -> None:
        last = f"version {tested} was" if tested is not None else "no version was"
        super().__init__(
            f"Change request {request_id}: {last} replay-tested; run "
            f"POST /api/v1/change-requests/{request_id}/replay-test with version {version} first."
        )


class WrongStatus(Conflict):
    def __init__(self, row: ChangeRequest, wanted: str) -> None:
        super().__init__(f"Change request {row.id} is {row.status}; this needs it {wanted}.")


class NotADraft(Conflict):
    def __init__(self, key: str, version: int) -> None:
        super().__init__(
            f"{key} version {version} is deployed already; a change request approves a new "
            "version: upload it (POST /api/v1/processes) and test that one."
        )


def get(session: Session, request_id: str) -> ChangeRequest:
    row = session.get(ChangeRequest, request_id)
    if row is None:
        raise NotFound("change request", request_id)
    return row


def for_case(session: Session, case_id: str) -> list[ChangeRequest]:
    cases.get(session, case_id)
    stmt = select(ChangeRequest).where(ChangeRequest.case_id == case_id).order_by(ChangeRequest.created_at)
    return list(session.scalars(stmt))


def open_for_process(session: Session, key: str) -> list[ChangeRequest]:
    """The change requests of ``key`` not deployed yet, oldest first (what the workbench offers
    to replay-test)."""
    stmt = (
        select(ChangeRequest)
        .where(ChangeRequest.process_key == key, ChangeRequest.status != DEPLOYED)
        .order_by(ChangeRequest.created_at, ChangeRequest.id)
    )
    return list(session.scalars(stmt))


def request_from_task(session: Session, task: Task, data: dict[str, Any], who: Principal) -> Case:
    """Completes an investigation's ``request_change`` task: the change request opens, naming
    a BPMN process, and the investigation waits until its new version is deployed."""
    investigation = cases.get(session, task.case_id)
    if investigation.kind != INVESTIGATION:
        return flows.complete_task(session, task.id, data, who)
    key = data.get("process_key")
    description = data.get("change_description")
    if not isinstance(key, str) or not key or not isinstance(description, str) or not description.strip():
        raise InvalidInput(
            "A change request names the process (process_key) and what should change (change_description).",
            fields=[
                {"field": name, "message": "is required"}
                for name, value in (("process_key", key), ("change_description", description))
                if not isinstance(value, str) or not value.strip()
            ],
        )
    definition = session.get(ProcessDefinition, key)
    if definition is None or definition.kind != "bpmn":
        raise InvalidInput(
            f"{key!r} is not a process here; name a BPMN process key (GET /api/v1/processes).",
            fields=[{"field": "process_key", "message": "no such process"}],
        )
    row = ChangeRequest(
        case_id=investigation.id, process_key=key, description=description, requested_by=who.name
    )
    session.add(row)
    session.flush()
    flows.complete_task(session, task.id, {**data, "change_request_id": row.id}, who)
    events.record(
        session,
        "change_request.opened",
        case_id=investigation.id,
        actor=who.name,
        data={"change_request_id": row.id, "process_key": key, "description": description},
    )
    return investigation


def replay_test(session: Session, request_id: str, version: int, who: Principal) -> ChangeRequest:
    """Replays the investigation's linked signals against ``version`` of the request's process
    and against the deployed version (see the module); the report is stored on the request."""
    row = get(session, request_id)
    if row.status == DEPLOYED:
        raise WrongStatus(row, f"{REQUESTED} or {APPROVED}")
    report = replay(session, row.case_id, row.process_key, version)
    row.tested_version, row.test_report, row.tested_at = version, report, utcnow()
    events.record(
        session,
        "change_request.tested",
        case_id=row.case_id,
        actor=who.name,
        data={
            "change_request_id": row.id,
            "process_key": row.process_key,
            "version": version,
            "against": report["deployed_version"],
            "signals": report["signals"],
            "differing": report["summary"]["differing"],
        },
    )
    return row


def approve(session: Session, request_id: str, version: int, who: Principal) -> ChangeRequest:
    """A process owner approves ``version`` (a draft that was replay-tested) for the request;
    deploying it through the processes API then completes the request."""
    row = get(session, request_id)
    if row.status != REQUESTED:
        raise WrongStatus(row, REQUESTED)
    target = definitions.get_version(session, row.process_key, version)
    if target.status != DRAFT:
        raise NotADraft(row.process_key, version)
    if row.tested_version != version:
        raise NotTested(row.id, version, row.tested_version)
    row.status, row.version, row.approved_by, row.approved_at = APPROVED, version, who.name, utcnow()
    events.record(
        session,
        "change_request.approved",
        case_id=row.case_id,
        actor=who.name,
        data={"change_request_id": row.id, "process_key": row.process_key, "version": version},
    )
    return row


def on_deployed(session: Session, key: str, version: int, *, actor: str) -> list[ChangeRequest]:
    """``version`` of ``key`` was deployed: the change requests approved for it are deployed,
    and each one's investigation goes on from its change step."""
    stmt = select(ChangeRequest).where(
        ChangeRequest.process_key == key, ChangeRequest.version == version, ChangeRequest.status == APPROVED
    )
    done = list(session.scalars(stmt))
    for row in done:
        row.status, row.deployed_at = DEPLOYED, utcnow()
        events.record(
            session,
            "change_request.deployed",
            case_id=row.case_id,
            actor=actor,
            data={"change_request_id": row.id, "process_key": key, "version": version},
        )
        investigation = cases.get(session, row.case_id)
        if investigation.process_instance_id is not None:
            payload = {"change_request_id": row.id, "process_key": key, "version": version}
            flows.advance(session, investigation, flows.Message(CHANGE_DEPLOYED, payload, actor))
    return done


def replay(session: Session, investigation_id: str, key: str, version: int) -> dict[str, Any]:
    """The report of a replay test of the investigation's linked signals (see the module)."""
    definitions.get_version(session, key, version)
    linked, total = _linked_signals(session, investigation_id)
    return {**_replay(session, key, version, linked), "linked": total}


def replay_recent(session: Session, key: str, version: int, limit: int = RECENT_REPLAYED) -> dict[str, Any]:
    """The report of a replay test of the opening signals of ``key``'s ``limit`` most recent
    cases (any version, any status), replayed oldest first; no change request needed, nothing
    stored. ``history`` counts the cases of ``key`` that a signal opened."""
    definitions.get_version(session, key, version)
    recent, total = _recent_signals(session, key, min(limit, MAX_REPLAYED))
    return {**_replay(session, key, version, recent), "history": total}


def _replay(session: Session, key: str, version: int, opened: list[tuple[Case, Signal]]) -> dict[str, Any]:
    """Each case's opening signal routed today and, where that opens ``key``, opened under
    ``version`` and under the deployed version in rolled-back savepoints (see the module)."""
    deployed = definitions.deployed(session, key).version
    rows: list[dict[str, Any]] = []
    for case, signal in opened:
        decision, context = _route(session, signal)
        opens = decision["action"] == "open_case" and decision["process_key"] == key
        entry: dict[str, Any] = {
            "signal_id": signal.id,
            "case_id": case.id,
            "routed": {"action": decision["action"], "process_key": decision.get("process_key")},
            "actual": _actual(case),
        }
        for label, number in (("candidate", version), ("deployed", deployed)):
            entry[label] = _dry_run(session, case, signal, decision, context, key, number) if opens else None
        entry["differs"] = opens and _shape(entry["candidate"]) != _shape(entry["deployed"])
        rows.append(entry)
    return {
        "process_key": key,
        "version": version,
        "deployed_version": deployed,
        "signals": len(rows),
        "summary": {
            "candidate": _summary(rows, "candidate"),
            "deployed": _summary(rows, "deployed"),
            "differing": sum(r["differs"] for r in rows),
        },
        "cases": rows,
    }


def _linked_signals(session: Session, investigation_id: str) -> tuple[list[tuple[Case, Signal]], int]:
    """The investigation's child cases with the signal that opened each, the oldest
    MAX_REPLAYED; and how many there are."""
    linked = (
        select(Case, Signal)
        .join(Signal, Signal.id == Case.origin_signal_id)
        .where(Case.parent_id == investigation_id)
    )
    stmt = linked.order_by(Signal.received_at, Signal.id).limit(MAX_REPLAYED)
    total = session.scalar(select(func.count()).select_from(linked.subquery())) or 0
    return [(c, s) for c, s in session.execute(stmt)], int(total)


def _recent_signals(session: Session, key: str, limit: int) -> tuple[list[tuple[Case, Signal]], int]:
    """The ``limit`` most recent cases of ``key`` a signal opened, oldest of them first; and how
    many there are."""
    opened = (
        select(Case, Signal)
        .join(Signal, Signal.id == Case.origin_signal_id)
        .join(ProcessInstanceRecord, ProcessInstanceRecord.id == Case.process_instance_id)
        .where(ProcessInstanceRecord.process_key == key)
    )
    stmt = opened.order_by(Signal.received_at.desc(), Signal.id.desc()).limit(limit)
    total = session.scalar(select(func.count()).select_from(opened.subquery())) or 0
    return [(c, s) for c, s in session.execute(stmt)][::-1], int(total)


def _route(session: Session, signal: Signal) -> tuple[dict[str, Any], dict[str, Any]]:
    customer = customers.get(session, signal.customer_id) if signal.customer_id else None
    context = routing.context_for(
        signal.enrichment or {},
        source=signal.source,
        influence=customer.influence if customer else 0.0,
        value_tier=customer.value_tier if customer else None,
    )
    return routing.route(session, context), context


def _dry_run(
    session: Session,
    case: Case,
    signal: Signal,
    decision: dict[str, Any],
    context: dict[str, Any],
    key: str,
    number: int,
) -> dict[str, Any]:
    opening = cases.Opening(
        priority=decision["priority"],
        queue=decision["queue"],
        topic=case.topic,
        title=case.title,
        customer_id=case.customer_id,
        sla_policy=decision["sla_policy"],
    )
    seed = {"intent": context["intent"], "sentiment": context["sentiment"], "source": signal.source}
    preview = flows.dry_run(session, opening, process_key=key, version=number, seed=seed, actor="replay")
    actual = _actual(case)
    sla = {}
    for target in SLA_TARGETS:
        due = preview.due_in.get(target)
        if due is None:
            continue
        took = actual[f"{target}_in"]
        if took is not None:
            sla[target] = "met" if took <= due else "breached"
        else:
            sla[target] = "breached" if actual["open_for"] > due else "pending"
    return {
        "version": number,
        "status": preview.status,
        "waits_at": preview.stage,
        "waits_at_title": preview.stage_title,
        "tasks": preview.tasks,
        "incident": preview.incident,
        "due_in": preview.due_in,
        "sla": sla,
    }


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _actual(case: Case) -> dict[str, Any]:
    """How long the real case took to its first response and its resolution (None: not yet)."""
    return {
        "status": case.status,
        "first_response_in": _seconds(case.created_at, case.first_response_at),
        "resolution_in": _seconds(case.created_at, case.resolved_at),
        "open_for": (utcnow() - case.created_at).total_seconds(),
    }


def _shape(run: dict[str, Any] | None) -> Any:
    if run is None:
        return None
    return tuple(
        run[k] for k in ("status", "waits_at", "waits_at_title", "tasks", "incident", "due_in", "sla")
    )


def _summary(rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    runs = [r[label] for r in rows if r[label] is not None]
    waits: dict[str, int] = {}
    sla: dict[str, dict[str, int]] = {t: {"met": 0, "breached": 0, "pending": 0} for t in SLA_TARGETS}
    for run in runs:
        waits[run["waits_at"] or "none"] = waits.get(run["waits_at"] or "none", 0) + 1
        for target, outcome in run["sla"].items():
            sla[target][outcome] += 1
    return {"opens": len(runs), "waits_at": waits, "incidents": sum(r["incident"] for r in runs), "sla": sla}
