from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str = Field(description="open | resolved")
    case_id: str
    instance_id: str
    process_key: str
    process_version: int
    task_id: str
    element_id: str
    element_name: str | None
    error: str = Field(description="the error's code name, e.g. ScriptFailed, ServiceFailed")
    message: str
    attempts: int
    opened_at: AwareDatetime
    last_failed_at: AwareDatetime
    resolved_at: AwareDatetime | None
    resolved_by: str | None
    resolution: str | None = Field(description="retried | moved_on, once resolved")


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(
        default_factory=dict, description="merged into the data the failed element reads before it runs again"
    )
    version: int | None = Field(
        default=None, ge=1, description="move the instance onto this version of its process first"
    )
