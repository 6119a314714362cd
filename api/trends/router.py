"""Trends: the spikes detected, and the thresholds per topic that decide them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from api.deps import Caller, DbSession
from engine.sla.durations import iso
from engine.trends import insights, thresholds
from engine.trends.models import Trend

router = APIRouter(prefix="/api/v1/trends", tags=["trends"])
READERS = ("csr", "supervisor", "process_owner")
TREND_READERS = ("integration", *READERS)  # other services (and `sift replay`) read what they caused


class WindowOut(BaseModel):
    start: AwareDatetime
    end: AwareDatetime
    duration: str = Field(description="ISO 8601, e.g. PT5M")


class SeriesRef(BaseModel):
    kind: str = Field(description="topic | entity | keyword")
    key: str


class TrendOut(BaseModel):
    id: str
    topic: str | None = Field(description="the topic of a topic trend; null for entity and keyword trends")
    series: SeriesRef
    detected_at: AwareDatetime = Field(description="event time: the end of the window that spiked")
    window: WindowOut
    volume: int
    baseline: float = Field(description="the volume the baseline expected in the window")
    score: float
    negative_share: float
    reach: float = Field(description="mean influence (0-1) of the window's authors")
    severity: int = Field(ge=1, le=10)
    seasonal: bool = Field(description="the hour-of-week baseline gave the expectation")
    case_id: str | None = Field(description="the investigation it opened or joined")
    attached: bool = Field(description="joined an investigation already open, as evidence")
    paged: bool
    recorded_at: AwareDatetime


class TrendPage(BaseModel):
    items: list[TrendOut]
    next_cursor: str | None


def trend_out(t: Trend) -> TrendOut:
    return TrendOut(
        id=t.id,
        topic=t.topic,
        series=SeriesRef(kind=t.kind, key=t.key),
        detected_at=t.detected_at,
        window=WindowOut(
            start=t.window_start, end=t.detected_at, duration=iso(t.detected_at - t.window_start)
        ),
        volume=t.volume,
        baseline=t.baseline,
        score=t.score,
        negative_share=t.negative_share,
        reach=t.reach,
        severity=t.severity,
        seasonal=t.seasonal,
        case_id=t.case_id,
        attached=t.attached,
        paged=t.paged,
        recorded_at=t.recorded_at,
    )


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: StrictFloat | StrictInt | None = None
    min_volume: StrictInt | None = None
    min_negative_share: StrictFloat | StrictInt | None = None
    on_negative: StrictBool | None = None
    cooldown_minutes: StrictInt | None = None
    page_severity: StrictInt | None = None


class ThresholdsOut(BaseModel):
    topic: str = Field(description="a topic, or 'default' (every other topic, entity and keyword)")
    score: float
    min_volume: int
    min_negative_share: float | None
    on_negative: bool
    cooldown_minutes: int
    page_severity: int
    builtin: bool
    updated_at: AwareDatetime | None
    updated_by: str | None


class ThresholdsList(BaseModel):
    items: list[ThresholdsOut]


def _thresholds_out(t: thresholds.Thresholds) -> ThresholdsOut:
    return ThresholdsOut(
        topic=t.topic, builtin=t.builtin, updated_at=t.updated_at, updated_by=t.updated_by, **asdict(t.params)
    )


@router.get("", response_model=TrendPage)
def list_trends(
    caller: Caller,
    session: DbSession,
    topic: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[str | None, Query(description="topic | entity | keyword")] = None,
    since: Annotated[AwareDatetime | None, Query(description="detected at or after (event time)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="detected before (event time)")] = None,
    min_severity: Annotated[int | None, Query(ge=1, le=10)] = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TrendPage:
    """Spikes, newest detection first."""
    caller.require(*TREND_READERS)
    flt = insights.TrendFilter(
        topic=topic, kind=kind, since=since, until=until, min_severity=min_severity, case_id=case_id
    )
    rows, next_cursor = insights.list_trends(session, flt, limit=limit, cursor=cursor)
    return TrendPage(items=[trend_out(t) for t in rows], next_cursor=next_cursor)


@router.get("/thresholds", response_model=ThresholdsList)
def list_thresholds(caller: Caller, session: DbSession) -> ThresholdsList:
    caller.require(*READERS)
    return ThresholdsList(items=[_thresholds_out(t) for t in thresholds.list_all(session)])


@router.put("/thresholds/{topic}", response_model=ThresholdsOut)
def put_thresholds(
    body: ThresholdsIn,
    caller: Caller,
    session: DbSession,
    topic: Annotated[str, Path(min_length=1, max_length=100)],
) -> ThresholdsOut:
    """Creates or replaces one topic's thresholds (``default`` for the rest); fields left out keep
    their current values."""
    caller.require("supervisor")
    values = body.model_dump(exclude_unset=True)
    return _thresholds_out(thresholds.put(session, topic, values, actor=caller.name))


@router.get("/{trend_id}", response_model=TrendOut)
def get_trend(trend_id: str, caller: Caller, session: DbSession) -> TrendOut:
    caller.require(*TREND_READERS)
    return trend_out(insights.get_trend(session, trend_id))
