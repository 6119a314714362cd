"""API keys: creation (shown once), lookup by hash, role checks, listing and revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.models import ROLES, ApiKey
from engine.db import utcnow
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from engine.events import service as events
from engine.events.models import ActivityEvent

#: a hand-picked bootstrap key shorter than this is refused at start-up
MIN_BOOTSTRAP_KEY_CHARS = 24
#: ``last_used_at`` is written at most this often per key (one UPDATE, not one per request)
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's holder name and role."""

    name: str
    role: str
    skills: tuple[str, ...] = field(default_factory=tuple)
    queues: tuple[str, ...] = field(default_factory=tuple)

    def require(self, *roles: str) -> None:
        if self.role != "admin" and self.role not in roles:
            allowed = ", ".join(sorted({*roles, "admin"}))
            raise Forbidden(f"The role {self.role!r} may not do this; it needs one of: {allowed}.")

    @property
    def is_supervisor(self) -> bool:
        return self.role in ("supervisor", "admin")


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(
    session: Session,
    name: str,
    role: str,
    *,
    skills: list[str] | None = None,
    queues: list[str] | None = None,
    raw_key: str | None = None,
    actor: str | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key and returns it with the raw secret, which is never stored."""
    if role not in ROLES:
        raise InvalidInput(
            f"Unknown role {role!r}; use one of {', '.join(ROLES)}.",
            fields=[{"field": "role", "message": f"must be one of {', '.join(ROLES)}"}],
        )
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)):
        raise Conflict(f"A key named {name!r} exists already; key names identify holders, pick another.")
    raw = raw_key or "sift_" + secrets.token_urlsafe(32)
    key = ApiKey(name=name, role=role, key_hash=hash_key(raw), skills=skills or [], queues=queues or [])
    session.add(key)
    session.flush()
    events.record(
        session, "key.created", actor=actor, data={"id": key.id, "name": name, "role": role}, outbox=False
    )
    return key, raw


def authenticate(session: Session, raw: str | None) -> Principal:
    if not raw:
        raise Unauthorized("No API key; send 'Authorization: Bearer <key>'.")
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is not valid; check it or ask an admin for a new one.")
    now = utcnow()
    if key.last_used_at is None or key.last_used_at <= now - LAST_USED_RESOLUTION:
        key.last_used_at = now
    return Principal(name=key.name, role=key.role, skills=tuple(key.skills), queues=tuple(key.queues))


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.name)))


def find_key(session: Session, id_or_name: str) -> ApiKey:
    """The key with this id, or else the one with this holder name."""
    key = session.get(ApiKey, id_or_name)
    if key is None:
        key = session.scalar(select(ApiKey).where(ApiKey.name == id_or_name))
    if key is None:
        raise NotFound("API key", id_or_name)
    return key


def revoke_key(session: Session, id_or_name: str, *, actor: str | None) -> tuple[ApiKey, bool]:
    """Revokes a key at once (the next request with it is a 401); returns it and whether this
    call revoked it (False: it was revoked already, nothing changes). The last active admin key
    cannot be revoked: nobody could create or revoke keys any more."""
    key = find_key(session, id_or_name)
    if key.revoked_at is not None:
        return key, False
    if key.role == "admin":
        # locked, so two admins revoking each other's keys at once cannot leave none (PostgreSQL;
        # SQLite has one writer)
        active = session.scalars(
            select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).with_for_update()
        ).all()
        if set(active) <= {key.id}:
            raise Conflict(
                f"{key.name!r} is the last active admin key; create another admin key first "
                "(POST /api/v1/keys or 'sift keys create --role admin'), then revoke this one."
            )
    key.revoked_at = utcnow()
    session.flush()
    events.record(
        session,
        "key.revoked",
        actor=actor,
        data={"id": key.id, "name": key.name, "role": key.role},
        outbox=False,
    )
    return key, True


def key_events(session: Session, limit: int = 100) -> list[ActivityEvent]:
    """Who created and revoked which key, and when; newest first."""
    return events.audit_trail(session, "key.", limit=limit)


def check_bootstrap_key(raw: str) -> None:
    """A bootstrap key is chosen by hand; one that is short can be guessed."""
    if len(raw) < MIN_BOOTSTRAP_KEY_CHARS:
        raise InvalidInput(
            f"SIFT_BOOTSTRAP_ADMIN_KEY is {len(raw)} characters long; use at least "
            f"{MIN_BOOTSTRAP_KEY_CHARS} (for example the output of: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
        )


def ensure_bootstrap_admin(session: Session, raw: str) -> bool:
    """Creates an admin key with exactly ``raw`` when no admin key exists yet."""
    check_bootstrap_key(raw)
    if session.scalar(select(ApiKey.id).where(ApiKey.role == "admin").limit(1)):
        return False
    name = "admin"
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)):
        name = f"admin-{secrets.token_hex(3)}"
    create_key(session, name, "admin", raw_key=raw, actor="bootstrap")
    return True


class _Unset:
    pass


UNSET: Any = _Unset()
MAX_CAPACITY = 1000


def find_holder(session: Session, name: str, *, lock: bool = False) -> ApiKey:
    """The active key held by ``name`` (``lock``: its row until the transaction ends, on
    PostgreSQL, so one holder's requests that hand them work take turns)."""
    stmt = select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    key = session.scalar(stmt)
    if key is None:
        raise NotFound("key holder", name)
    return key


def update_holder(
    session: Session,
    name: str,
    *,
    actor: str,
    away: bool | None = None,
    capacity: Any = UNSET,
    skills: list[str] | None = None,
    queues: list[str] | None = None,
) -> ApiKey:
    """Changes a holder's presence (away or available), capacity (open cases at once; None for
    no limit), skills or queues; an ``agent.updated`` event records what changed."""
    key = find_holder(session, name)
    if capacity is not UNSET and capacity is not None and not 0 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(
            f"capacity must be between 0 and {MAX_CAPACITY}, or null for no limit.",
            fields=[{"field": "capacity", "message": f"must be 0..{MAX_CAPACITY} or null"}],
        )
    changed: dict[str, Any] = {}
    if away is not None and away != key.away:
        changed["away"] = {"from": key.away, "to": away}
        key.away = away
        key.away_since = utcnow() if away else None
    if capacity is not UNSET and capacity != key.capacity:
        changed["capacity"] = {"from": key.capacity, "to": capacity}
        key.capacity = capacity
    for field_name, value in (("skills", skills), ("queues", queues)):
        if value is not None and sorted(set(value)) != sorted(getattr(key, field_name)):
            changed[field_name] = {"from": list(getattr(key, field_name)), "to": sorted(set(value))}
            setattr(key, field_name, sorted(set(value)))
    if changed:
        events.record(session, "agent.updated", actor=actor, data={"name": name, **changed})
    return key
