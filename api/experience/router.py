"""CSAT answers on cases (from a survey service or a supervisor) and the experience score EEX."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Caller, DbSession
from engine.cases import service as cases
from engine.db import utcnow
from engine.errors import InvalidInput
from engine.experience import service as experience
from engine.experience.models import CsatAnswer

router = APIRouter(tags=["experience"])
READERS = ("csr", "supervisor", "process_owner")
MAX_WINDOW = timedelta(days=366)


class CsatIn(BaseModel):
    model_config = {"extra": "forbid"}
    score: int = Field(ge=1, le=5, description="1 (very unsatisfied) to 5 (very satisfied)")
    comment: str | None = Field(default=None, max_length=experience.COMMENT_MAX)


class CsatOut(BaseModel):
    case_id: str
    score: int
    comment: str | None
    actor: str
    received_at: AwareDatetime


class FactorOut(BaseModel):
    value: float | None = Field(description="0-100; null when the group has no data for it")
    weight: float
    count: int = Field(description="answers, signals or resolved cases it is read from")


class GroupOut(BaseModel):
    name: str = Field(description="the process key, or the channel (source) of the opening signal")
    cases: int
    eex: float | None = Field(description="Σ(Fn·Wn)/n over the factors with data and weight > 0")
    factors: dict[str, FactorOut]


class ExperienceOut(BaseModel):
    by: str
    since: AwareDatetime
    until: AwareDatetime
    items: list[GroupOut]


class WeightsOut(BaseModel):
    weights: dict[str, float]
    factors: dict[str, str] = Field(description="what each factor reads")


def csat_out(answer: CsatAnswer) -> CsatOut:
    return CsatOut(
        case_id=answer.case_id,
        score=answer.score,
        comment=answer.comment,
        actor=answer.actor,
        received_at=answer.received_at,
    )


@router.post("/api/v1/cases/{case_id}/csat", response_model=CsatOut, status_code=201)
def post_csat(case_id: str, body: CsatIn, caller: Caller, session: DbSession, response: Response) -> CsatOut:
    """The customer's answer (e.g. from a survey link in the resolution reply); a later answer
    replaces the case's earlier one (200 instead of 201) and both stay on the timeline."""
    caller.require("integration", "supervisor")
    answer, replaced = experience.record_csat(
        session, cases.get(session, case_id), body.score, body.comment, actor=caller.name
    )
    if replaced:
        response.status_code = 200
    return csat_out(answer)


@router.get("/api/v1/insights/experience", response_model=ExperienceOut)
def get_experience(
    caller: Caller,
    session: DbSession,
    by: Annotated[str, Query(description="process | channel")] = "process",
    since: Annotated[
        AwareDatetime | None, Query(description="cases created at or after; default until - 30 days")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="cases created before; default now")] = None,
) -> ExperienceOut:
    caller.require(*READERS)
    end = until or utcnow()
    start = since or end - timedelta(days=30)
    if end - start > MAX_WINDOW:
        raise InvalidInput(
            "The window is at most 366 days.",
            fields=[{"field": "since", "message": "at most 366 days before until"}],
        )
    groups = experience.experience(session, by, start, end)
    return ExperienceOut(
        by=by,
        since=start,
        until=end,
        items=[
            GroupOut(
                name=g.name,
                cases=g.cases,
                eex=g.eex,
                factors={
                    k: FactorOut(value=f.value, weight=f.weight, count=f.count) for k, f in g.factors.items()
                },
            )
            for g in groups
        ],
    )


@router.get("/api/v1/insights/experience/weights", response_model=WeightsOut)
def get_weights(caller: Caller, session: DbSession) -> WeightsOut:
    caller.require(*READERS)
    return WeightsOut(weights=experience.weights(session), factors=experience.FACTORS)


@router.put("/api/v1/insights/experience/weights", response_model=WeightsOut)
def put_weights(
    body: dict[str, Annotated[float, Field(allow_inf_nan=False)]], caller: Caller, session: DbSession
) -> WeightsOut:
    """Sets the named factors' weights (0 to 10); factors not named keep theirs."""
    caller.require("supervisor")
    return WeightsOut(
        weights=experience.put_weights(session, body, actor=caller.name), factors=experience.FACTORS
    )
