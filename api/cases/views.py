"""Shapes case rows into the API's case documents."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.cases.schemas import (
    CaseOut,
    CaseSummary,
    ChildrenOut,
    CommentOut,
    CsatRef,
    CustomerRef,
    IncidentRef,
    LinkOut,
    ParticipantOut,
    ProcessRef,
    SignalRef,
    SlaOut,
    StageOut,
    TaskRef,
    WritingOut,
)
from engine.cases import links, participants, transitions
from engine.cases import service as cases
from engine.cases.models import Case, CaseParticipant, Comment
from engine.customers import service as customers
from engine.experience import service as experience
from engine.incidents import service as incidents
from engine.processes.models import ProcessInstanceRecord
from engine.signals import service as signals
from engine.tasks import service as tasks
from engine.tasks.models import Task


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
    answer = experience.csat_of(session, case.id)
    return CaseOut(
        **base,
        customer=customer,
        signals=[
            SignalRef(id=s.id, source=s.source, text=s.text, received_at=s.received_at)
            for s in signals.for_case(session, case.id)
        ],
        tasks=[
            TaskRef(id=t.id, name=t.name, title=t.title, assignee=t.assignee, writing=writing_of(t))
            for t in tasks.for_case(session, case.id)
        ],
        parent_id=case.parent_id,
        merged_into=case.merged_into,
        children=_children(session, case),
        process=process,
        resolution=case.resolution,
        resolved_at=case.resolved_at,
        csat=CsatRef(score=answer.score, comment=answer.comment, received_at=answer.received_at)
        if answer is not None
        else None,
        incidents=[
            IncidentRef(
                id=i.id,
                status=i.status,
                element_id=i.element_id,
                element_name=i.element_name,
                error=i.error,
                message=i.message,
                attempts=i.attempts,
                opened_at=i.opened_at,
                resolved_at=i.resolved_at,
            )
            for i in incidents.for_case(session, case.id)
        ],
        participants=[participant(p) for p in participants.for_case(session, case.id)],
    )


def writing_of(task: Task) -> WritingOut | None:
    held = tasks.writing(task)
    return WritingOut(by=held.by, since=held.since, expires_at=held.until) if held else None


def comment(row: Comment) -> CommentOut:
    return CommentOut(
        id=row.id,
        case_id=row.case_id,
        at=row.created_at,
        actor=row.author,
        body=row.body,
        internal=row.internal,
        mentions=list(row.mentions),
        merged_from=row.merged_from,
    )


def link(view: links.LinkView) -> LinkOut:
    return LinkOut(
        id=view.id,
        type=view.type,
        case_id=view.case_id,
        created_by=view.created_by,
        created_at=view.created_at,
    )


def _children(session: Session, case: Case) -> ChildrenOut:
    counts = cases.children_counts(session, case.id)
    by_status = {status: counts.get(status, 0) for status in transitions.STATUSES}
    settled = by_status[transitions.RESOLVED] + by_status[transitions.CLOSED]
    return ChildrenOut(total=sum(counts.values()), by_status=by_status, settled=settled)


def participant(row: CaseParticipant) -> ParticipantOut:
    return ParticipantOut(
        user=row.user, department=row.department, role=row.role, added_by=row.added_by, added_at=row.added_at
    )
