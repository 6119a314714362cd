"""Insights from the trend counters: a series over time, and the day's top issues."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Caller, DbSession
from engine.db import utcnow
from engine.errors import InvalidInput
from engine.trends import insights
from engine.trends.models import ENTITY, KEYWORD, SOURCE, TOPIC

router = APIRouter(prefix="/api/v1/insights", tags=["insights"])
READERS = ("csr", "supervisor", "process_owner")


class PointOut(BaseModel):
    start: AwareDatetime
    volume: int
    negative: int
    negative_share: float | None
    sentiment: float | None = Field(description="mean sentiment score (-1..1) of the bucket's mentions")
    reach: float | None = Field(description="mean influence (0-1) of the bucket's authors")


class SeriesOut(BaseModel):
    kind: str
    key: str
    bucket: str
    since: AwareDatetime
    until: AwareDatetime
    points: list[PointOut]


class WordOut(BaseModel):
    word: str
    count: int


class SampleOut(BaseModel):
    signal_id: str
    source: str
    created_at: AwareDatetime
    text: str = Field(description="PII (e-mail addresses, phone numbers) redacted")
    sentiment: str | None
    case_id: str | None


class IssueOut(BaseModel):
    topic: str
    volume: int
    negative: int
    negative_share: float
    previous_day_volume: int
    words: list[WordOut]
    samples: list[SampleOut]
    trends: list[str] = Field(description="ids of the topic's trends detected that day")


class TopIssuesOut(BaseModel):
    date: date
    items: list[IssueOut]


@router.get("/series", response_model=SeriesOut)
def series(
    caller: Caller,
    session: DbSession,
    topic: Annotated[str | None, Query(max_length=200)] = None,
    entity: Annotated[str | None, Query(max_length=200)] = None,
    keyword: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    bucket: Annotated[str, Query(description="1m | 5m | 15m | 1h | 6h | 1d")] = "1h",
    since: Annotated[AwareDatetime | None, Query(description="default: a day before until")] = None,
    until: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
) -> SeriesOut:
    """Volume and sentiment of one topic, entity, keyword or source, bucket by bucket (event time)."""
    caller.require(*READERS)
    chosen = {TOPIC: topic, ENTITY: entity, KEYWORD: keyword, SOURCE: source}
    given = [(kind, key) for kind, key in chosen.items() if key is not None]
    if len(given) != 1:
        raise InvalidInput(
            "Name exactly one of topic, entity, keyword or source.",
            fields=[{"field": "topic", "message": "exactly one of topic, entity, keyword, source"}],
        )
    kind, key = given[0]
    end = until or utcnow()
    start = since or end - timedelta(days=1)
    points = insights.series(session, kind, key, bucket, start, end)
    return SeriesOut(
        kind=kind,
        key=key,
        bucket=bucket,
        since=start,
        until=end,
        points=[PointOut(**p.as_dict()) for p in points],
    )


@router.get("/top-issues", response_model=TopIssuesOut)
def top_issues(
    caller: Caller,
    session: DbSession,
    date_: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD (UTC); default today")] = None,
    limit: Annotated[int, Query(ge=3, le=5)] = 5,
) -> TopIssuesOut:
    """The day's top 3-5 issues, the words customers use for them, and sample mentions."""
    caller.require(*READERS)
    day = date_ or utcnow().date()
    found = insights.top_issues(session, day, limit)
    items: list[Any] = [
        IssueOut(
            topic=i.topic,
            volume=i.volume,
            negative=i.negative,
            negative_share=round(i.negative / i.volume, 4) if i.volume else 0.0,
            previous_day_volume=i.previous_volume,
            words=[WordOut(**w) for w in i.words],
            samples=[SampleOut(**s) for s in i.samples],
            trends=i.trends,
        )
        for i in found
    ]
    return TopIssuesOut(date=day, items=items)
