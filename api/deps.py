"""Request dependencies: one unit of work per request, and who is calling.

``DbSession`` opens :func:`engine.db.unit_of_work` once per request; ``Caller`` authenticates
with that same session, and every router works in it, so a request is one transaction (on SQLite
one ``BEGIN IMMEDIATE``, not one for the key check and another for the work).

The dependency has FastAPI's ``scope="function"``: its exit code (the commit) runs when the
endpoint has returned and its response has been built, but *before* the response is sent. With
the default ``"request"`` scope FastAPI runs the exit code after the response has gone out, so a
failing commit would arrive at the client as a 200 whose data was rolled back. An exception
from the endpoint is thrown into the dependency, which rolls everything back and re-raises it
for the error handlers; a commit that fails becomes an error response in the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import accesslog, ratelimit
from engine.auth import service as auth
from engine.auth import sessions
from engine.auth.service import Principal
from engine.db import unit_of_work
from engine.errors import Conflict, Unauthorized

log = logging.getLogger("sift.api")

_AFTER_COMMIT = "sift.after_commit"
#: the web pages' session cookie (HttpOnly, SameSite=Strict; api/web/router.py sets it)
SESSION_COOKIE = "sift_session"
#: the header that carries the session's CSRF token on every state-changing request
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_session() -> Iterator[Session]:
    try:
        with unit_of_work() as session:
            yield session
    except IntegrityError as err:
        # a unique or foreign key constraint refused a row, at a flush inside the endpoint or at
        # commit: a concurrent writer got there first (two requests creating the same name pass
        # the existence check together). The transaction rolled back, so nothing was kept.
        log.warning("constraint refused a write: %s", str(err.orig).splitlines()[0] if err.orig else err)
        raise Conflict(
            "Someone changed the same data at the same moment; nothing was saved, try again."
        ) from err
    for hook in session.info.pop(_AFTER_COMMIT, []):
        hook()


DbSession = Annotated[Session, Depends(request_session, scope="function")]


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Runs ``hook`` once the request's transaction has committed (not at all if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


def bearer_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def current_principal(
    request: Request, session: DbSession, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The key's holder; an address that sent too many invalid keys gets 429 (api/ratelimit.py).

    Without a bearer key, a web session cookie stands for the key that signed in; then every
    state-changing request must carry the session's CSRF token in ``X-CSRF-Token`` (403
    ``CsrfRefused``), so another site cannot make a signed-in browser act. A bearer key is
    checked exactly as before, and a request that sends one is never judged by its cookie."""
    raw = bearer_key(authorization)
    if not raw:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            return _session_principal(request, session, token)
        return auth.authenticate(session, raw)  # 401: no key, and no guess to count
    limits = ratelimit.of(request.app)
    address = ratelimit.client_address(request)
    limits.check_key_attempt(address, raw)
    try:
        principal = auth.authenticate(session, raw)
    except Unauthorized:
        limits.key_failed(address)
        raise
    limits.key_worked(address, raw)
    setattr(request.state, accesslog.KEY_NAME, principal.name)
    return principal


def _session_principal(request: Request, session: Session, token: str) -> Principal:
    resolved = sessions.resolve(session, token)
    if request.method not in SAFE_METHODS:
        sessions.check_csrf(resolved, request.headers.get(CSRF_HEADER))
    setattr(request.state, accesslog.KEY_NAME, resolved.principal.name)
    return resolved.principal


Caller = Annotated[Principal, Depends(current_principal)]
