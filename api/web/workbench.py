"""The process owners' workbench: processes and their live instances, open incidents, the
modeler (bpmn-js) and the decision-table editor (dmn-js) of one definition, and one instance on
its diagram.

The pages read what they show in the request's session; every change (validate, save as a
draft version, deploy, roll back, retry an incident, test a routing draft, migrate instances in
bulk, replay a version against history) goes through the JSON API from the page's script with
the session cookie and CSRF token, like the other pages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import DbSession
from api.web.router import _page, _refused
from api.web.viewer import current, to_signin
from engine.cases import service as cases
from engine.changes import service as changes
from engine.errors import NotFound
from engine.incidents import service as incidents
from engine.processes import drafts, monitor
from engine.processes import service as definitions
from engine.processes.models import ProcessDefinition
from engine.signals.models import Signal

router = APIRouter(include_in_schema=False)
OWNER = "process_owner"
LIVE_PER_PROCESS = 50
RECENT_SIGNALS = 20


@router.get("/workbench")
def workbench(request: Request, session: DbSession) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, OWNER):
        return refused
    processes = []
    for definition, versions in definitions.list_definitions(session):
        live: list[dict[str, Any]] = []
        if definition.kind == "bpmn":
            rows, _ = monitor.list_instances(session, definition.key, limit=LIVE_PER_PROCESS)
            case_of = cases.by_instance(session, [r.id for r in rows])
            for record in rows:
                view = monitor.view(session, record)
                live.append(
                    {"record": record, "waiting_at": view.waiting_at, "case_id": case_of.get(record.id)}
                )
        processes.append({"definition": definition, "versions": versions, "live": live})
    open_incidents, _ = incidents.list_incidents(session, incidents.IncidentFilter(status="open"), limit=100)
    return _page(
        request,
        "workbench.html",
        viewer,
        nav="workbench",
        processes=processes,
        incidents=open_incidents,
    )


@router.get("/workbench/processes/{key}")
def definition_page(
    request: Request,
    session: DbSession,
    key: str,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    draft: Annotated[bool, Query(description="open the work-in-progress draft")] = False,
) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, OWNER):
        return refused
    definition = session.get(ProcessDefinition, key)
    if definition is None:
        return _missing(request, viewer, "No such process", f"No process or decision has the key {key!r}.")
    stored = drafts.find(session, key)
    if draft and stored is None:
        return _missing(request, viewer, "No draft", f"{key!r} has no work-in-progress draft.")
    versions = next(v for d, v in definitions.list_definitions(session) if d.key == key)
    if draft and stored is not None:
        version = version or stored.base_version
    number = version or definition.deployed_version or (versions[-1].version if versions else None)
    if number is None or not any(v.version == number for v in versions):
        return _missing(request, viewer, "No such version", f"{key!r} has no version {number}.")
    context = {
        "nav": "workbench",
        "definition": definition,
        "versions": versions,
        "number": number,
        "draft": stored,
        "editing_draft": draft,
    }
    if definition.kind == "dmn":
        recent = session.scalars(
            select(Signal)
            .where(Signal.enrichment.is_not(None), Signal.routing.is_not(None))
            .order_by(Signal.received_at.desc())
            .limit(RECENT_SIGNALS)
        )
        return _page(request, "decision.html", viewer, signals=list(recent), **context)
    live = monitor.live_counts(session, key)
    return _page(
        request,
        "modeler.html",
        viewer,
        live=live,
        # the version with the most live instances is the likeliest to migrate from
        migrate_from=max(live, key=lambda v: live[v]) if live else definition.deployed_version,
        change_requests=changes.open_for_process(session, key),
        **context,
    )


@router.get("/workbench/instances/{instance_id}")
def instance_page(request: Request, session: DbSession, instance_id: str) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, OWNER):
        return refused
    try:
        record = monitor.get(session, instance_id)
    except NotFound:
        return _missing(
            request, viewer, "No such instance", f"No process instance has the id {instance_id!r}."
        )
    return _page(
        request,
        "instance.html",
        viewer,
        nav="workbench",
        record=record,
        case_id=cases.by_instance(session, [record.id]).get(record.id),
    )


def _missing(request: Request, viewer: Any, heading: str, detail: str) -> Response:
    return _page(request, "error.html", viewer, 404, heading=heading, detail=detail)
