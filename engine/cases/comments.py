"""Comments on a case and the @mentions in them.

A comment is for the team and never leaves for the customer (only a respond task's reply does);
``internal`` marks a note. An @mention is ``@`` followed by the name of an active key held by a
person (any role but ``integration``), where the ``@`` does not follow a letter, digit or one of
``_.@-`` (so ``bob@alice`` in an address names nobody); trailing ``.``, ``-`` and ``@`` end the
sentence, not the name. Names compare exactly, else case-insensitively when that finds one
holder. An unknown handle (``@acme``) stays text. The author is not told of their own mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import pagination
from engine.auth.models import ApiKey
from engine.auth.service import Principal
from engine.cases import service as cases
from engine.cases.models import Comment, Mention
from engine.db import new_id, utcnow
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.events import service as events

MAX_MENTIONS = 50
EXCERPT_CHARS = 200
_HANDLE = re.compile(r"(?<![A-Za-z0-9_.@-])@([A-Za-z0-9][A-Za-z0-9_.@-]*)")


def handles(body: str) -> list[str]:
    """The candidate names after each ``@`` in ``body``, in order, trailing punctuation off."""
    found: dict[str, None] = {}  # ordered and de-duplicated in linear time
    for match in _HANDLE.finditer(body):
        name = match.group(1).rstrip(".-@")
        if name:
            found[name] = None
    return list(found)


def resolve_mentions(session: Session, body: str) -> list[str]:
    """The key holders ``body`` mentions, in the order it first names them."""
    wanted = handles(body)
    if not wanted:
        return []
    names = list(
        session.scalars(select(ApiKey.name).where(ApiKey.revoked_at.is_(None), ApiKey.role != "integration"))
    )
    exact = set(names)
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.lower(), []).append(name)
    found: dict[str, None] = {}
    for handle in wanted:
        match = handle if handle in exact else None
        if match is None and len(folded.get(handle.lower(), [])) == 1:
            match = folded[handle.lower()][0]
        if match is not None:
            found[match] = None
    return list(found)


def add(session: Session, case_id: str, body: str, who: Principal, *, internal: bool = False) -> Comment:
    """Writes a comment (``internal``: a note) on the case, records a ``case.commented`` event
    and a mention for each key holder it names but its author."""
    case = cases.get(session, case_id)
    if not body.strip():
        raise InvalidInput(
            "A comment needs a body.", fields=[{"field": "body", "message": "must not be empty"}]
        )
    mentioned = resolve_mentions(session, body)
    if len(mentioned) > MAX_MENTIONS:
        raise InvalidInput(
            f"A comment may mention at most {MAX_MENTIONS} people; this one names {len(mentioned)}.",
            fields=[{"field": "body", "message": f"at most {MAX_MENTIONS} mentions"}],
        )
    now = utcnow()
    comment = Comment(
        id=new_id(),
        case_id=case.id,
        author=who.name,
        body=body,
        internal=internal,
        mentions=mentioned,
        created_at=now,
    )
    session.add(comment)
    excerpt = _excerpt(body)
    for name in mentioned:
        if name == who.name:
            continue
        session.add(
            Mention(
                id=new_id(),
                comment_id=comment.id,
                case_id=case.id,
                user=name,
                author=who.name,
                excerpt=excerpt,
                internal=internal,
                created_at=now,
            )
        )
    events.record(
        session,
        "case.commented",
        case_id=case.id,
        actor=who.name,
        data={"comment_id": comment.id, "body": body, "internal": internal, "mentions": mentioned},
    )
    session.flush()
    return comment


def _excerpt(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


OLDEST_FIRST = [(Comment.created_at, False), (Comment.id, False)]
NEWEST_FIRST = [(Mention.created_at, True), (Mention.id, True)]


def for_case(
    session: Session,
    case_id: str,
    *,
    internal: bool | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[Comment], str | None]:
    """A page of the case's comments, oldest first (those merged in from other cases too)."""
    cases.get(session, case_id)
    stmt = select(Comment).where(Comment.case_id == case_id)
    if internal is not None:
        stmt = stmt.where(Comment.internal.is_(internal))
    return pagination.fetch(session, stmt, OLDEST_FIRST, cursor, limit)


@dataclass(frozen=True)
class MentionFilter:
    user: str
    unread: bool = False


def whose(session: Session, who: Principal, user: str) -> str:
    """The holder whose mentions ``who`` asks for: ``me`` is the caller; another's are for
    supervisors (and admins) only, and the name must be a key holder's."""
    if user == "me" or user == who.name:
        return who.name
    if not who.is_supervisor:
        raise Forbidden("A CSR reads only their own mentions (user=me); a supervisor may read anyone's.")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == user)) is None:
        raise NotFound("key holder", user)
    return user


def mentions(
    session: Session, flt: MentionFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Mention], str | None]:
    """A page of the mentions of ``flt.user``, newest first."""
    stmt = select(Mention).where(Mention.user == flt.user)
    if flt.unread:
        stmt = stmt.where(Mention.read_at.is_(None))
    return pagination.fetch(session, stmt, NEWEST_FIRST, cursor, limit)


def mark_read(session: Session, mention_id: str, who: Principal) -> Mention:
    """The mentioned holder has seen it (idempotent); it is their own state, so nobody else
    may set it and it is no event on the case."""
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise NotFound("mention", mention_id)
    if mention.user != who.name:
        raise Forbidden("Only the person mentioned marks a mention read.")
    if mention.read_at is None:
        mention.read_at = utcnow()
    return mention
