"""Canned replies: create, list, read, change and delete the templates (supervisors manage them).

A body is checked when it is saved: every placeholder well formed and every variable known
(``templates.py``), so a template that is stored can always be rendered, short of a value the
case does not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.canned import templates
from engine.canned.models import CannedReply
from engine.db import new_id, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_TAG = re.compile(r"^[\w.-]{1,40}$")
MAX_TAGS = 20


class CannedReplyNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"A canned reply named {name!r} exists already (names ignore case); choose another name "
            "or change that one."
        )


@dataclass(frozen=True)
class Changes:
    """The fields to set; ``None`` leaves a field as it is (``language=""`` clears it)."""

    name: str | None = None
    body: str | None = None
    tags: list[str] | None = None
    language: str | None = None


def get(session: Session, reply_id: str) -> CannedReply:
    row = session.get(CannedReply, reply_id)
    if row is None:
        raise NotFound("canned reply", reply_id)
    return row


def create(session: Session, new: Changes, *, actor: str) -> CannedReply:
    if new.name is None or new.body is None:
        raise InvalidInput(
            "A canned reply needs a name and a body.",
            fields=[
                {"field": f, "message": "is required"} for f in ("name", "body") if getattr(new, f) is None
            ],
        )
    now = utcnow()
    row = CannedReply(
        id=new_id(), tags=[], created_at=now, created_by=actor, updated_at=now, updated_by=actor
    )
    _apply(row, new)
    _save(session, row)
    events.record(session, "canned_reply.created", actor=actor, data=_summary(row))
    return row


def update(session: Session, reply_id: str, changes: Changes, *, actor: str) -> CannedReply:
    row = get(session, reply_id)
    _apply(row, changes)
    row.updated_at, row.updated_by = utcnow(), actor
    _save(session, row)
    events.record(session, "canned_reply.updated", actor=actor, data=_summary(row))
    return row


def delete(session: Session, reply_id: str, *, actor: str) -> None:
    """Replies already sent keep its id and name (on the reply row and the timeline)."""
    row = get(session, reply_id)
    session.delete(row)
    events.record(session, "canned_reply.deleted", actor=actor, data={"id": row.id, "name": row.name})


def list_replies(
    session: Session, *, tag: str | None = None, language: str | None = None, q: str | None = None
) -> list[CannedReply]:
    """By name; ``tag`` and ``language`` filter exactly, ``q`` finds a part of the name."""
    stmt = select(CannedReply).order_by(CannedReply.name_key)
    if language:
        stmt = stmt.where(CannedReply.language == language.lower())
    if q:
        stmt = stmt.where(CannedReply.name_key.contains(q.casefold(), autoescape=True))
    rows = list(session.scalars(stmt))
    if tag:
        rows = [r for r in rows if tag.casefold() in (t.casefold() for t in r.tags)]
    return rows


def _apply(row: CannedReply, changes: Changes) -> None:
    if changes.name is not None:
        name = " ".join(changes.name.split())
        if not name:
            raise InvalidInput(
                "A canned reply needs a name.", fields=[{"field": "name", "message": "must not be blank"}]
            )
        row.name, row.name_key = name[:100], name[:100].casefold()
    if changes.body is not None:
        if not changes.body.strip():
            raise InvalidInput(
                "A canned reply needs a body.", fields=[{"field": "body", "message": "must not be blank"}]
            )
        templates.placeholders(changes.body)  # malformed or unknown variables: 422 naming them
        row.body = changes.body
    if changes.tags is not None:
        row.tags = _tags(changes.tags)
    if changes.language is not None:
        row.language = _language(changes.language)


def _tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidInput(
            f"At most {MAX_TAGS} tags.", fields=[{"field": "tags", "message": f"at most {MAX_TAGS}"}]
        )
    for i, tag in enumerate(tags):
        if not _TAG.match(tag):
            raise InvalidInput(
                "A tag is 1-40 letters, digits, '_', '.' or '-'.",
                fields=[{"field": f"tags.{i}", "message": "1-40 letters, digits, _ . -"}],
            )
    return list(dict.fromkeys(tags))


def _language(language: str) -> str | None:
    if not language:
        return None
    if not _LANGUAGE.match(language.lower()):
        raise InvalidInput(
            f"Unknown language code {language!r}; use an ISO 639 code such as en or de.",
            fields=[{"field": "language", "message": "an ISO 639-1 code, e.g. en"}],
        )
    return language.lower()


def _save(session: Session, row: CannedReply) -> None:
    """Flushes ``row``; a name another reply has (even one written at the same moment) is a 409."""
    clash = session.scalar(
        select(CannedReply.id).where(CannedReply.name_key == row.name_key, CannedReply.id != row.id)
    )
    if clash is not None:
        raise CannedReplyNameTaken(row.name)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as err:
        raise CannedReplyNameTaken(row.name) from err


def _summary(row: CannedReply) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "variables": templates.variables_of(row.body)}
