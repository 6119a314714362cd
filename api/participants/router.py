"""A case's participants from departments and the subtasks assigned to them (an
investigation's collaboration); see engine/cases/participants.py."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.cases import views
from api.cases.schemas import ParticipantOut
from api.deps import Caller, DbSession
from engine.cases import participants
from engine.cases.models import Subtask

router = APIRouter(tags=["participants"])
MANAGERS = ("supervisor",)  # who adds and removes participants (and admin)
PEOPLE = ("csr", "supervisor", "process_owner")  # any holder may be a participant
Id = Annotated[str, Path(max_length=64)]


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=80, description="a key holder's name")
    department: str = Field(min_length=1, max_length=100)
    role: str | None = Field(default=None, max_length=100, description="their part, e.g. lead")


class SubtaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    assignee: str = Field(min_length=1, max_length=80, description="a participant of the case")
    due_at: AwareDatetime | None = None


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=5000)


class SubtaskOut(BaseModel):
    id: str
    case_id: str
    title: str
    assignee: str
    status: Literal["open", "done"]
    due_at: AwareDatetime | None
    note: str | None = Field(description="the note it was completed with")
    created_by: str
    created_at: AwareDatetime
    completed_by: str | None
    completed_at: AwareDatetime | None


class SubtaskPage(BaseModel):
    items: list[SubtaskOut]
    next_cursor: str | None


def _out(row: Subtask) -> SubtaskOut:
    return SubtaskOut.model_validate(row, from_attributes=True)


Status = Annotated[Literal["open", "done"] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=500)]


@router.post("/api/v1/cases/{case_id}/participants", response_model=ParticipantOut, status_code=201)
def add_participant(case_id: Id, body: ParticipantIn, caller: Caller, session: DbSession) -> ParticipantOut:
    """A key holder from a department takes part in the case: they may comment on it and work
    the subtasks assigned to them."""
    caller.require(*MANAGERS)
    row = participants.add(session, case_id, body.user, body.department, body.role, caller)
    return views.participant(row)


@router.delete("/api/v1/cases/{case_id}/participants/{user}", status_code=204)
def remove_participant(
    case_id: Id, user: Annotated[str, Path(max_length=80)], caller: Caller, session: DbSession
) -> Response:
    caller.require(*MANAGERS)
    participants.remove(session, case_id, user, caller)
    return Response(status_code=204)


@router.post("/api/v1/cases/{case_id}/subtasks", response_model=SubtaskOut, status_code=201)
def create_subtask(case_id: Id, body: SubtaskIn, caller: Caller, session: DbSession) -> SubtaskOut:
    """A subtask for a participant, made by a supervisor or the case's holder."""
    caller.require("csr", "supervisor")
    return _out(participants.create_subtask(session, case_id, body.title, body.assignee, body.due_at, caller))


@router.get("/api/v1/cases/{case_id}/subtasks", response_model=SubtaskPage)
def case_subtasks(
    case_id: Id,
    caller: Caller,
    session: DbSession,
    status: Status = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SubtaskPage:
    caller.require(*PEOPLE)
    flt = participants.SubtaskFilter(case_id=case_id, status=status)
    rows, next_cursor = participants.subtasks(session, flt, limit=limit, cursor=cursor)
    return SubtaskPage(items=[_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/api/v1/subtasks", response_model=SubtaskPage)
def my_subtasks(
    caller: Caller,
    session: DbSession,
    assignee: Annotated[str, Query(max_length=80, description="me, or a holder's name (supervisors)")] = "me",
    status: Status = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SubtaskPage:
    """A person's subtasks across cases, oldest first."""
    caller.require(*PEOPLE)
    flt = participants.SubtaskFilter(assignee=participants.whose(session, caller, assignee), status=status)
    rows, next_cursor = participants.subtasks(session, flt, limit=limit, cursor=cursor)
    return SubtaskPage(items=[_out(r) for r in rows], next_cursor=next_cursor)


@router.post("/api/v1/subtasks/{subtask_id}:complete", response_model=SubtaskOut)
def complete_subtask(subtask_id: Id, body: CompleteIn, caller: Caller, session: DbSession) -> SubtaskOut:
    """The assignee (or a supervisor) completes it; a second completion is a 409."""
    caller.require(*PEOPLE)
    return _out(participants.complete_subtask(session, subtask_id, body.note, caller))
