"""Suppression rules: an owner mutes an entity or a phrase until an expiry.

A signal that matches an active rule is stored as ``ignored`` with the rule named in its
routing, never dropped. Matching is case-insensitive: a phrase anywhere in the text (on word
boundaries), an entity equal to the author's handle or to an entity the NLP found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import new_id, utcnow
from engine.errors import InvalidInput, NotFound
from engine.events import service as events
from engine.signals.models import ENTITY, PHRASE, Signal, SuppressionRule

KINDS = (ENTITY, PHRASE)
_ACTIVE_CACHE = "sift.suppression.active"  # session.info key: the active rules, once per transaction


@dataclass(frozen=True)
class NewRule:
    kind: str
    value: str
    expires_at: datetime
    reason: str | None = None


def create(session: Session, rule: NewRule, *, actor: str) -> SuppressionRule:
    if rule.kind not in KINDS:
        raise InvalidInput(
            f"Unknown suppression kind {rule.kind!r}; use entity or phrase.",
            fields=[{"field": "kind", "message": "must be entity or phrase"}],
        )
    value = " ".join(rule.value.split())
    if not value:
        raise InvalidInput(
            "A suppression rule needs a value to mute.",
            fields=[{"field": "value", "message": "must not be empty"}],
        )
    if rule.expires_at.tzinfo is None:
        raise InvalidInput(
            "expires_at needs a time zone, e.g. 2026-12-31T00:00:00Z.",
            fields=[{"field": "expires_at", "message": "add a time zone"}],
        )
    if rule.expires_at <= utcnow():
        raise InvalidInput(
            "expires_at is in the past; a rule mutes until a future time.",
            fields=[{"field": "expires_at", "message": "must be in the future"}],
        )
    row = SuppressionRule(
        id=new_id(),
        kind=rule.kind,
        value=value[:200],
        reason=(rule.reason or None) and rule.reason[:500],
        expires_at=rule.expires_at,
        created_by=actor,
        created_at=utcnow(),
        matched=0,
    )
    session.add(row)
    session.info.pop(_ACTIVE_CACHE, None)
    events.record(
        session,
        "suppression.created",
        actor=actor,
        data={"id": row.id, "kind": row.kind, "value": row.value, "expires_at": row.expires_at.isoformat()},
    )
    return row


def list_rules(session: Session, *, include_expired: bool = False) -> list[SuppressionRule]:
    stmt = select(SuppressionRule).order_by(SuppressionRule.created_at, SuppressionRule.id)
    if not include_expired:
        stmt = stmt.where(SuppressionRule.expires_at > utcnow())
    return list(session.scalars(stmt))


def delete(session: Session, rule_id: str, *, actor: str) -> None:
    row = session.get(SuppressionRule, rule_id)
    if row is None:
        raise NotFound("suppression rule", rule_id)
    session.delete(row)
    session.info.pop(_ACTIVE_CACHE, None)
    events.record(
        session,
        "suppression.deleted",
        actor=actor,
        data={"id": rule_id, "kind": row.kind, "value": row.value},
    )


def _active(session: Session, now: datetime) -> list[tuple[SuppressionRule, re.Pattern[str] | None]]:
    cached = session.info.get(_ACTIVE_CACHE)
    if cached is None:
        rows = list(session.scalars(select(SuppressionRule).where(SuppressionRule.expires_at > now)))
        cached = [(r, _phrase(r.value) if r.kind == PHRASE else None) for r in rows]
        session.info[_ACTIVE_CACHE] = cached
    return [(r, p) for r, p in cached if r.expires_at > now]


def _phrase(value: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in value.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def matching(session: Session, signal: Signal, enrichment: dict[str, Any]) -> SuppressionRule | None:
    """The first active rule ``signal`` matches (oldest first), its match counted; else None."""
    rules = _active(session, utcnow())
    if not rules:
        return None
    names: set[str] | None = None
    for rule, pattern in rules:
        if pattern is not None:
            if pattern.search(signal.text):
                rule.matched = (rule.matched or 0) + 1
                return rule
            continue
        if names is None:
            names = _entity_names(signal, enrichment)
        if rule.value.casefold() in names:
            rule.matched = (rule.matched or 0) + 1
            return rule
    return None


def _entity_names(signal: Signal, enrichment: dict[str, Any]) -> set[str]:
    author = signal.author or {}
    found = {str(author[k]).casefold() for k in ("handle", "id") if author.get(k)}
    found |= {h.lstrip("@") for h in list(found)}
    for entity in enrichment.get("entities") or []:
        text = entity.get("text") if isinstance(entity, dict) else None
        if text:
            found.add(" ".join(str(text).split()).casefold())
    return found


def label(rule: SuppressionRule) -> str:
    """How a signal's routing names the rule that muted it."""
    return (
        f"suppression {rule.id}: {rule.kind} {rule.value!r} muted by {rule.created_by} "
        f"until {rule.expires_at.isoformat()}"
    )
