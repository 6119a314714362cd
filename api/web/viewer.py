"""Who is looking at a page: the web session behind the cookie, and the sign-in and sign-out
that make and end it.

Pages are server-rendered for the signed-in person; whatever they change goes through the JSON
API with the same cookie and the session's CSRF token (``api/deps.py`` checks it), so the pages
add no second path for writes. Only sign-in and sign-out are form posts here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import SESSION_COOKIE
from engine.auth import sessions
from engine.auth.service import Principal
from engine.events import service as events


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    csrf: str
    seq: int  # the newest event when the page was read: its event stream starts after it

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def supervisor(self) -> bool:
        return self.principal.is_supervisor


def current(request: Request, session: Session) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        resolved = sessions.resolve(session, token)
    except sessions.SessionExpired:
        return None
    return Viewer(resolved.principal, resolved.csrf_token, events.last_seq(session))


def to_signin(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def safe_next(value: str | None) -> str:
    """Only a path on this site: an open redirect would send a signed-in person elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/work"
    return value


def same_origin(request: Request) -> bool:
    """A form post from another site is refused (login CSRF): the browser's Sec-Fetch-Site or
    Origin says where it came from; a client that sends neither is not a browser on a page."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


def set_cookie(request: Request, response: Response, started: sessions.Started) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=started.expires_at_seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
