from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.cases.schemas import WritingOut


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    name: str
    title: str
    status: str
    assignee: str | None
    queue: str | None
    priority: str | None
    form: dict[str, Any]
    data: dict[str, Any]
    created_at: AwareDatetime
    completed_at: AwareDatetime | None
    completed_by: str | None
    writing: WritingOut | None = Field(default=None, description="who is writing on the task now, if anyone")


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(default=None, description="pass as cursor for the next page")


class NextTaskOut(TaskOut):
    urgency: int = Field(description="the task's urgency when it was claimed (docs/api.md: tasks:next)")


class AssignIn(BaseModel):
    assignee: str | None = Field(max_length=80)


class CompleteIn(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict)


class WritingLease(WritingOut):
    task_id: str
    case_id: str
