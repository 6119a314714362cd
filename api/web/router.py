"""The web pages: sign-in, My work, the case page, the supervisor board and the dashboard.

Server-rendered HTML (Jinja2) with a little plain JavaScript: a page is one request that reads
what it shows in the request's session, so My work paints with its rows in the first response;
the scripts only count down SLA clocks, call the JSON API for every change (cookie + CSRF
header) and re-fetch the page's live region when the event stream says something changed.
The dashboard reads the JSON API itself and draws with Chart.js from node_modules.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from api import ratelimit
from api.cases import views
from api.deps import SESSION_COOKIE, DbSession
from api.queues.router import list_agents_of
from api.web import casepage
from api.web.viewer import Viewer, current, safe_next, same_origin, set_cookie, to_signin
from engine.assist import service as assist
from engine.auth import sessions
from engine.cases import board as boards
from engine.cases import comments
from engine.cases import service as cases
from engine.cases.models import Case
from engine.config import get_settings
from engine.db import utcnow
from engine.errors import Unauthorized
from engine.trends import insights
from engine.trends.models import SOURCE, TOPIC

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
WORKERS = ("csr", "supervisor")
SCOPES = ("mine", "unassigned", "all")
PAGE_SIZE = 50
LOOSE_TRENDS = timedelta(days=1)  # entity and keyword trends stay on the board this long
SERIES_SPAN = timedelta(days=90)  # the dashboard's longest window: its busiest topics and sources
SERIES_SHOWN = 6


def _page(request: Request, name: str, viewer: Viewer | None, status: int = 200, **context: Any) -> Response:
    response = templates.TemplateResponse(request, name, {"viewer": viewer, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(request: Request, viewer: Viewer, *roles: str) -> Response | None:
    if viewer.role == "admin" or viewer.role in roles:
        return None
    detail = f"The role {viewer.role!r} may not open this page; it needs one of: {', '.join(roles)}."
    return _page(request, "error.html", viewer, 403, heading="Not for your role", detail=detail)


@router.get("/")
def home(request: Request, session: DbSession) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse("/workbench" if viewer.role == "process_owner" else "/work", status_code=303)


@router.get("/signin")
def signin_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    return _signin(request, safe_next(next))


def _signin(request: Request, next_path: str, error: str | None = None, status: int = 200) -> Response:
    settings = get_settings()
    return _page(
        request,
        "signin.html",
        None,
        status,
        next=next_path,
        error=error,
        hours=f"{settings.web_session_hours:g}",
        idle_minutes=f"{settings.web_session_idle_minutes:g}",
    )


@router.post("/signin")
def signin(
    request: Request,
    session: DbSession,
    key: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=500)] = "/work",
) -> Response:
    """Exchanges the key for a session cookie; the key is not kept by the browser."""
    target = safe_next(next)
    if not same_origin(request):
        return _signin(request, target, "Sign-in must come from this page.", 403)
    limits = ratelimit.of(request.app)
    address = ratelimit.client_address(request)
    key = key.strip()
    if key:
        limits.check_key_attempt(address, key)
    try:
        started = sessions.start(session, key)
    except Unauthorized:
        if key:
            limits.key_failed(address)
        return _signin(request, target, "That key is not valid. Check it, or ask an admin for one.", 401)
    limits.key_worked(address, key)
    if target == "/work" and started.principal.role == "process_owner":
        target = "/workbench"  # My work is for CSRs and supervisors; a process owner's page is this
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, started)
    return response


@router.post("/signout")
def signout(
    request: Request, session: DbSession, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    viewer = current(request, session)
    if token and viewer is not None:
        sessions.check_csrf(sessions.Resolved(viewer.principal, viewer.csrf), csrf)
        sessions.end(session, token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/work")
def my_work(
    request: Request,
    session: DbSession,
    scope: Annotated[str, Query(max_length=20)] = "mine",
    status: Annotated[str, Query(max_length=20)] = "open",
    queue: Annotated[str | None, Query(max_length=64)] = None,
    priority: Annotated[str | None, Query(max_length=10)] = None,
    topic: Annotated[str | None, Query(max_length=100)] = None,
    sla: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, *WORKERS):
        return refused
    f = {
        "scope": scope if scope in SCOPES else "mine",
        "status": status,
        "queue": queue or None,
        "priority": priority or None,
        "topic": topic or None,
        "sla": sla or None,
        "q": q or None,
    }
    flt = cases.CaseFilter(
        status=f["status"],
        queue=f["queue"],
        priority=f["priority"],
        topic=f["topic"],
        sla=f["sla"],
        q=f["q"],
        assignee=viewer.name if f["scope"] == "mine" else None,
        unassigned=f["scope"] == "unassigned",
    )
    rows, next_cursor = cases.list_cases(session, flt, sort="sla_due", limit=PAGE_SIZE, cursor=cursor)
    more = {k: v for k, v in f.items() if v} | {"cursor": next_cursor or ""}
    return _page(
        request,
        "work.html",
        viewer,
        nav="work",
        f=f,
        cases=[views.summary(c) for c in rows],
        next_cursor=next_cursor,
        more_url="/work?" + urlencode(more),
        queues=_distinct(session, Case.queue),
        topics=_distinct(session, Case.topic),
        mentions=comments.mentions(session, comments.MentionFilter(viewer.name, unread=True), limit=10)[0],
    )


def _distinct(session: DbSession, column: Any) -> list[str]:
    live = Case.status.in_(boards.LIVE)
    return sorted(v for v in session.scalars(select(column).where(live).distinct()) if v)


@router.get("/cases/{case_id}")
def case_page(request: Request, session: DbSession, case_id: str) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, *WORKERS):
        return refused
    case = session.get(Case, case_id)
    if case is None:
        return _page(
            request,
            "error.html",
            viewer,
            404,
            heading="No such case",
            detail=f"No case has the id {case_id!r}.",
        )
    agents = list_agents_of(session) if viewer.supervisor else []
    return _page(
        request,
        "case.html",
        viewer,
        nav="work",
        agents=agents,
        assist=assist.enabled(),
        **casepage.build(session, case),
    )


@router.get("/board")
def board(request: Request, session: DbSession) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, "supervisor"):
        return refused
    return _page(
        request,
        "board.html",
        viewer,
        nav="board",
        queues=boards.queue_figures(session),
        attention=[views.summary(c) for c in boards.needing_attention(session)],
        agents=list_agents_of(session),
        trends=insights.open_trends(session, since=utcnow() - LOOSE_TRENDS),
    )


@router.get("/dashboard")
def dashboard(request: Request, session: DbSession) -> Response:
    viewer = current(request, session)
    if viewer is None:
        return to_signin(request)
    if refused := _refused(request, viewer, "supervisor"):
        return refused
    now = utcnow()
    return _page(
        request,
        "dashboard.html",
        viewer,
        nav="dashboard",
        topics=insights.busiest(session, TOPIC, now - SERIES_SPAN, now, limit=SERIES_SHOWN),
        sources=insights.busiest(session, SOURCE, now - SERIES_SPAN, now, limit=SERIES_SHOWN),
    )
