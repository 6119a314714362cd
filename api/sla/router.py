from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Caller, DbSession
from engine.cases import report as reports
from engine.db import utcnow
from engine.sla import calendars, clock, policies
from engine.sla import preview as previews
from engine.sla.durations import iso

NAME = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")

router = APIRouter(prefix="/api/v1/sla", tags=["sla"])


class PolicyOut(BaseModel):
    name: str
    calendar: str
    targets: dict[str, dict[str, Any]]  # a duration string or a target object
    warning_at: float


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misplaced "stages" is refused, not ignored

    calendar: Any = None
    targets: Any = None
    warning_at: Any = None


class PolicyList(BaseModel):
    items: list[PolicyOut]


def _out(p: policies.Policy) -> PolicyOut:
    return PolicyOut(name=p.name, calendar=p.calendar, targets=p.targets, warning_at=p.warning_at)


@router.get("/policies", response_model=PolicyList)
def list_policies(caller: Caller, session: DbSession) -> PolicyList:
    caller.require("csr", "supervisor", "process_owner")
    return PolicyList(items=[_out(p) for p in policies.list_policies(session)])


@router.get("/policies/{name}", response_model=PolicyOut)
def get_policy(name: str, caller: Caller, session: DbSession) -> PolicyOut:
    caller.require("csr", "supervisor", "process_owner")
    return _out(policies.require(session, name))


@router.put("/policies/{name}", response_model=PolicyOut)
def put_policy(
    body: PolicyIn,
    caller: Caller,
    session: DbSession,
    name: str = NAME,
) -> PolicyOut:
    """Creates or replaces a policy; it applies to cases opened afterwards."""
    caller.require("supervisor")
    return _out(policies.put(session, name, body.model_dump(), actor=caller.name))


class HolidaysOut(BaseModel):
    country: str
    subdivision: str | None


class CalendarOut(BaseModel):
    name: str
    time_zone: str
    hours: dict[str, list[str]]
    holidays: HolidaysOut | None
    overrides: dict[str, list[str]]
    working_day: str
    builtin: bool


class CalendarIn(BaseModel):
    time_zone: Any = None
    hours: Any = None
    holidays: Any = None
    overrides: Any = None
    working_day: Any = None


class CalendarList(BaseModel):
    items: list[CalendarOut]


@router.get("/calendars", response_model=CalendarList)
def list_calendars(caller: Caller, session: DbSession) -> CalendarList:
    caller.require("csr", "supervisor", "process_owner")
    return CalendarList(items=[CalendarOut(**c) for c in calendars.list_calendars(session)])


@router.get("/calendars/{name}", response_model=CalendarOut)
def get_calendar(name: str, caller: Caller, session: DbSession) -> CalendarOut:
    caller.require("csr", "supervisor", "process_owner")
    return CalendarOut(**calendars.require(session, name))


@router.put("/calendars/{name}", response_model=CalendarOut)
def put_calendar(body: CalendarIn, caller: Caller, session: DbSession, name: str = NAME) -> CalendarOut:
    """Creates or replaces a business calendar; due times computed afterwards count in it."""
    caller.require("supervisor")
    return CalendarOut(**calendars.put(session, name, body.model_dump(), actor=caller.name))


class PreviewIn(BaseModel):
    policy: Any = None
    priority: Any = None
    opened_at: Any = None


class TargetPreview(BaseModel):
    target: str
    working_time: str
    due_at: datetime
    due_at_local: datetime
    warning_at: datetime
    warning_at_local: datetime


class PreviewOut(BaseModel):
    policy: str
    priority: str
    calendar: str
    time_zone: str
    opened_at: datetime
    opened_at_local: datetime
    first_response: TargetPreview
    next_response: TargetPreview
    resolution: TargetPreview


@router.post("/preview", response_model=PreviewOut)
def preview(body: PreviewIn, caller: Caller, session: DbSession) -> PreviewOut:
    """The due and warning times a case opened at ``opened_at`` (default: now) would get."""
    caller.require("csr", "supervisor", "process_owner")
    result = previews.preview(session, body.model_dump())
    calendar = result.policy.resolved_calendar
    zone = calendar.zone
    utc = result.opened_at.astimezone(UTC)

    def shaped(due: clock.Due) -> TargetPreview:
        return TargetPreview(
            target=due.target,
            working_time=iso(due.working),
            due_at=due.due,
            due_at_local=due.due.astimezone(zone),
            warning_at=due.warning,
            warning_at_local=due.warning.astimezone(zone),
        )

    return PreviewOut(
        policy=result.policy.name,
        priority=result.priority,
        calendar=calendar.name,
        time_zone=zone.key,
        opened_at=utc,
        opened_at_local=utc.astimezone(zone),
        **{kind: shaped(due) for kind, due in result.targets.items()},
    )


class SecondsOut(BaseModel):
    count: int
    p50: float | None
    p90: float | None


class DurationsOut(BaseModel):
    wall_seconds: SecondsOut
    working_seconds: SecondsOut


class ComplianceOut(BaseModel):
    share: float | None
    met: int
    breached: int
    pending: int


class NowOut(BaseModel):
    at_risk: int
    breached: int
    paused: int


class FiguresOut(BaseModel):
    cases: int
    resolved: int
    compliance: ComplianceOut
    first_response: DurationsOut
    resolution: DurationsOut
    breaches: dict[str, int]
    now: NowOut


class GroupOut(FiguresOut):
    key: str | None
    label: str


class ReportOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    as_of: datetime
    group_by: str
    groups: list[GroupOut]
    total: FiguresOut


def _seconds(p: reports.Percentiles) -> SecondsOut:
    return SecondsOut(count=p.count, p50=p.p50, p90=p.p90)


def _durations(d: reports.Durations) -> DurationsOut:
    return DurationsOut(wall_seconds=_seconds(d.wall), working_seconds=_seconds(d.working))


def _figures(f: reports.Figures) -> dict[str, Any]:
    return {
        "cases": f.cases,
        "resolved": f.resolved,
        "compliance": ComplianceOut(share=f.compliance, met=f.met, breached=f.breached, pending=f.pending),
        "first_response": _durations(f.first_response),
        "resolution": _durations(f.resolution),
        "breaches": f.breaches,
        "now": NowOut(at_risk=f.at_risk_now, breached=f.breached_now, paused=f.paused_now),
    }


INSTANT = "ISO 8601 with a zone, e.g. 2026-11-01T00:00:00Z"


@router.get("/report", response_model=ReportOut)
def report(
    caller: Caller,
    session: DbSession,
    start: Annotated[str | None, Query(alias="from", max_length=64, description=INSTANT)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description=INSTANT)] = None,
    group_by: Annotated[str | None, Query(description="policy | queue | assignee | priority")] = None,
) -> ReportOut:
    """SLA figures of the cases opened in [from, to) (default: the last 7 days), per group and in total."""
    caller.require("supervisor")
    now = utcnow()
    result = reports.report(session, reports.window(start, end, group_by, now=now), as_of=now)
    return ReportOut(
        start=result.window.start.astimezone(UTC),
        end=result.window.end.astimezone(UTC),
        as_of=result.as_of,
        group_by=result.window.group_by,
        groups=[GroupOut(key=g.key, label=g.label, **_figures(g.figures)) for g in result.groups],
        total=FiguresOut(**_figures(result.total)),
    )
