from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field


class CustomerRef(BaseModel):
    id: str
    name: str | None
    handles: list[str]
    influence: float
    value_tier: str | None
    open_cases: int = Field(description="this customer's open or waiting cases, this one included")
    total_cases: int


class SignalRef(BaseModel):
    id: str
    source: str
    text: str
    received_at: AwareDatetime


class WritingOut(BaseModel):
    by: str = Field(description="the key holder writing on the task now")
    since: AwareDatetime
    expires_at: AwareDatetime = Field(description="when the lease lapses unless its holder renews it")


class TaskRef(BaseModel):
    id: str
    name: str
    title: str
    assignee: str | None
    writing: WritingOut | None = Field(description="who is writing on the task now, if anyone")


class ParticipantOut(BaseModel):
    user: str
    department: str
    role: str | None = Field(description="their part in the case, as given")
    added_by: str
    added_at: AwareDatetime


class SlaOut(BaseModel):
    policy: str | None
    first_response_due: AwareDatetime | None
    resolution_due: AwareDatetime | None
    due: AwareDatetime | None
    state: str
    paused: bool


class ProcessRef(BaseModel):
    key: str
    version: int
    instance_id: str
    status: str


class StageOut(BaseModel):
    name: str = Field(
        description="the user task's element id (or its lane), or the event the process waits at"
    )
    title: str | None
    since: AwareDatetime | None


class CaseSummary(BaseModel):
    id: str
    kind: str
    status: str
    priority: str
    urgency: int
    queue: str
    assignee: str | None
    topic: str | None
    title: str
    sla: SlaOut
    stage: StageOut | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class CsatRef(BaseModel):
    score: int = Field(description="1 to 5; the latest answer when the customer answered again")
    comment: str | None
    received_at: AwareDatetime


class IncidentRef(BaseModel):
    id: str
    status: str
    element_id: str
    element_name: str | None
    error: str
    message: str
    attempts: int
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None


class ChildrenOut(BaseModel):
    total: int
    by_status: dict[str, int] = Field(
        description="open, waiting, resolved, closed: how many children are in each"
    )
    settled: int = Field(
        description="resolved or closed, of total: what an investigation's communicate step waits for"
    )


class CaseOut(CaseSummary):
    customer: CustomerRef | None
    signals: list[SignalRef]
    tasks: list[TaskRef]
    parent_id: str | None
    merged_into: str | None = Field(description="the case this one was merged into (it is closed)")
    children: ChildrenOut = Field(
        description="the cases whose parent this is (an investigation's linked cases)"
    )
    process: ProcessRef | None
    resolution: dict[str, Any] | None
    resolved_at: AwareDatetime | None
    csat: CsatRef | None = Field(description="the customer's satisfaction answer (POST .../csat)")
    incidents: list[IncidentRef] = Field(
        default_factory=list, description="where the case's process failed at run time, newest first"
    )
    participants: list[ParticipantOut] = Field(
        default_factory=list,
        description="key holders from departments working on the case, first added first",
    )


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None


class TimelineItem(BaseModel):
    id: str
    case_id: str = Field(description="this case, or a case merged into it")
    at: AwareDatetime
    type: str
    actor: str | None
    data: dict[str, Any]


class Timeline(BaseModel):
    items: list[TimelineItem]


class AssignIn(BaseModel):
    assignee: str | None = Field(max_length=80)


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    internal: bool = Field(default=False, description="a note; no comment is ever sent to the customer")


class CommentOut(BaseModel):
    id: str
    case_id: str
    at: AwareDatetime
    actor: str
    body: str
    internal: bool
    mentions: list[str] = Field(description="the key holders the body @mentions")
    merged_from: str | None = Field(description="the case it was written on, when a merge moved it here")


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None


class LinkIn(BaseModel):
    type: Literal["duplicate_of", "related", "parent", "child"] = Field(
        description="what the other case is to this one: its original (duplicate_of), related, "
        "its parent, or its child"
    )
    case_id: str = Field(min_length=1, max_length=32)


class LinkOut(BaseModel):
    id: str
    type: str = Field(
        description="duplicate_of | duplicated_by | related | parent | child, seen from this case"
    )
    case_id: str = Field(description="the other case")
    created_by: str
    created_at: AwareDatetime


class LinkList(BaseModel):
    items: list[LinkOut]


class MergeIn(BaseModel):
    into: str = Field(min_length=1, max_length=32, description="the case that survives")
