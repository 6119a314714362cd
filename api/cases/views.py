"""Shapes case rows into the API's case documents."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.cases.schemas import (
    CaseOut,
    CaseSummary,
    ChildrenOut,
    CustomerRef,
    ProcessRef,
    SignalRef,
    SlaOut,
    StageOut,
    TaskRef,
)
from engine.cases import service as cases
from engine.cases import transitions
from engine.cases.models import Case
from engine.customers import service as customers
from engine.processes.models import ProcessInstanceRecord
from engine.signals import service as signals
from engine.tasks import service as tasks


def sla_of(case: Case) -> SlaOut:
    return SlaOut(
        policy=case.sla_policy,
        first_response_due=case.first_response_due_at,
        resolution_due=case.resolution_due_at,
        due=case.sla_due_at,
        state=cases.sla_state(case),
        paused=case.sla_paused,
    )


def summary(case: Case) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        kind=case.kind,
        status=case.status,
        priority=case.priority,
        urgency=case.urgency,
        queue=case.queue,
        assignee=case.assignee,
        topic=case.topic,
        title=case.title,
        sla=sla_of(case),
        stage=StageOut(name=case.stage, title=case.stage_title, since=case.stage_since)
        if case.stage
        else None,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def detail(session: Session, case: Case) -> CaseOut:
    customer = None
    if case.customer_id:
        c = customers.get(session, case.customer_id)
        open_cases, total_cases = customers.case_counts(session, c.id)
        customer = CustomerRef(
            id=c.id,
            name=c.display_name,
            handles=customers.handles(session, c.id),
            influence=c.influence,
            value_tier=c.value_tier,
            open_cases=open_cases,
            total_cases=total_cases,
        )
    process = None
    if case.process_instance_id:
        record = session.get(ProcessInstanceRecord, case.process_instance_id)
        if record is not None:
            process = ProcessRef(
                key=record.process_key,
                version=record.process_version,
                instance_id=record.id,
                status=record.status,
            )
    base = summary(case).model_dump()
    return CaseOut(
        **base,
        customer=customer,
        signals=[
            SignalRef(id=s.id, source=s.source, text=s.text, received_at=s.received_at)
            for s in signals.for_case(session, case.id)
        ],
        tasks=[
            TaskRef(id=t.id, name=t.name, title=t.title, assignee=t.assignee)
            for t in tasks.for_case(session, case.id)
        ],
        parent_id=case.parent_id,
        children=_children(session, case),
        process=process,
        resolution=case.resolution,
        resolved_at=case.resolved_at,
    )


def _children(session: Session, case: Case) -> ChildrenOut:
    counts = cases.children_counts(session, case.id)
    by_status = {status: counts.get(status, 0) for status in transitions.STATUSES}
    return ChildrenOut(total=sum(counts.values()), by_status=by_status)
