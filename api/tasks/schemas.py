from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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


class TaskPage(BaseModel):
    items: list[TaskOut]


class CompleteIn(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict)
