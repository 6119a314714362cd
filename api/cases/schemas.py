from __future__ import annotations

from typing import Any

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


class TaskRef(BaseModel):
    id: str
    name: str
    title: str
    assignee: str | None


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


class ChildrenOut(BaseModel):
    total: int
    by_status: dict[str, int] = Field(
        description="open, waiting, resolved, closed: how many children are in each"
    )


class CaseOut(CaseSummary):
    customer: CustomerRef | None
    signals: list[SignalRef]
    tasks: list[TaskRef]
    parent_id: str | None
    children: ChildrenOut = Field(
        description="the cases whose parent this is (an investigation's linked cases)"
    )
    process: ProcessRef | None
    resolution: dict[str, Any] | None
    resolved_at: AwareDatetime | None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None


class TimelineItem(BaseModel):
    id: str
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


class CommentOut(BaseModel):
    id: str
    at: AwareDatetime
    actor: str
    body: str
