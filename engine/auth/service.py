"""API keys: creation (shown once), lookup by hash, role checks."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.models import ROLES, ApiKey
from engine.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from engine.events import service as events


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
    key = ApiKey(
        name=name, role=role, key_hash=hash_key(raw), prefix=raw[:8], skills=skills or [], queues=queues or []
    )
    session.add(key)
    session.flush()
    events.record(session, "key.created", actor=actor, data={"name": name, "role": role}, outbox=False)
    return key, raw


def authenticate(session: Session, raw: str | None) -> Principal:
    if not raw:
        raise Unauthorized("No API key; send 'Authorization: Bearer <key>'.")
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is not valid; check it or ask an admin for a new one.")
    return Principal(name=key.name, role=key.role, skills=tuple(key.skills), queues=tuple(key.queues))


def ensure_bootstrap_admin(session: Session, raw: str) -> bool:
    """Creates an admin key with exactly ``raw`` when no admin key exists yet."""
    if session.scalar(select(ApiKey.id).where(ApiKey.role == "admin").limit(1)):
        return False
    name = "admin"
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)):
        name = f"admin-{secrets.token_hex(3)}"
    create_key(session, name, "admin", raw_key=raw, actor="bootstrap")
    return True
