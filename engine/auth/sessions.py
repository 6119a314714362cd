"""Web sessions: a person's key exchanged once for a session token the browser keeps in an
HttpOnly cookie, with a synchronizer CSRF token for every state-changing request.

The key itself is never stored by the browser (nor in the table: only hashes). A session is
valid while its row exists, is younger than ``web_session_hours``, was used within
``web_session_idle_minutes``, and its key is not revoked; so revoking a key ends its sessions at
their next request, and signing out deletes the row.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.auth import service as auth
from engine.auth.models import ApiKey, WebSession
from engine.config import get_settings
from engine.db import utcnow
from engine.errors import Forbidden, Unauthorized

#: ``last_seen_at`` is written at most this often per session (one UPDATE a minute, not per request)
SEEN_RESOLUTION = timedelta(minutes=1)


class SessionExpired(Unauthorized):
    def __init__(self) -> None:
        super().__init__(
            "Your web session has ended (signed out, expired or its key revoked); sign in again."
        )


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "This request changes data but carries no valid CSRF token; send the session's token in "
            "the X-CSRF-Token header (the pages do), or use 'Authorization: Bearer <key>'."
        )


@dataclass(frozen=True)
class Started:
    token: str
    csrf_token: str
    principal: auth.Principal
    expires_at_seconds: int


@dataclass(frozen=True)
class Resolved:
    principal: auth.Principal
    csrf_token: str


def start(session: Session, raw_key: str) -> Started:
    """Signs the key's holder in; 401 for a key that is not valid."""
    principal = auth.authenticate(session, raw_key)
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == auth.hash_key(raw_key)))
    assert key is not None  # authenticate found it
    settings = get_settings()
    now = utcnow()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    lifetime = timedelta(hours=settings.web_session_hours)
    session.add(
        WebSession(
            token_hash=auth.hash_key(token),
            key_id=key.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    _forget_ended(session, key.id)
    session.flush()
    return Started(token, csrf, principal, int(lifetime.total_seconds()))


def resolve(session: Session, token: str) -> Resolved:
    """The principal behind a session token; ``SessionExpired`` when it has ended."""
    row = session.get(WebSession, auth.hash_key(token))
    if row is None:
        raise SessionExpired()
    now = utcnow()
    idle = timedelta(minutes=get_settings().web_session_idle_minutes)
    key = session.get(ApiKey, row.key_id)
    if now >= row.expires_at or now - row.last_seen_at >= idle or key is None or key.revoked_at is not None:
        raise SessionExpired()
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
    principal = auth.Principal(
        name=key.name, role=key.role, skills=tuple(key.skills), queues=tuple(key.queues)
    )
    return Resolved(principal, row.csrf_token)


def check_csrf(resolved: Resolved, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent.encode(), resolved.csrf_token.encode()):
        raise CsrfRefused()


def end(session: Session, token: str) -> None:
    """Signs out: the session's row goes, so the cookie is worth nothing even if kept."""
    session.execute(delete(WebSession).where(WebSession.token_hash == auth.hash_key(token)))


def _forget_ended(session: Session, key_id: str) -> None:
    """Drops the key's sessions that have ended, so the table does not grow with sign-ins."""
    now = utcnow()
    idle = timedelta(minutes=get_settings().web_session_idle_minutes)
    session.execute(
        delete(WebSession).where(
            WebSession.key_id == key_id,
            (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - idle),
        )
    )
