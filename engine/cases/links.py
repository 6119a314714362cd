"""Links between cases: a duplicate, related cases, parent and child.

A link is stored once, as ``source —type→ target`` (``engine/cases/models.py``), and each side
reads it its own way: a ``parent`` link is ``parent`` from the child and ``child`` from the
parent; ``duplicate_of`` is ``duplicated_by`` from the original; ``related`` is the same from
both. Two cases have at most one link; a case has at most one parent (``Case.parent_id`` mirrors
it), and no case is its own ancestor. Each new or removed link is a ``case.linked`` or
``case.unlinked`` event on both cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.cases import service as cases
from engine.cases.models import Case, CaseLink
from engine.db import new_id, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events

DUPLICATE_OF, RELATED, PARENT, CHILD, DUPLICATED_BY = (
    "duplicate_of",
    "related",
    "parent",
    "child",
    "duplicated_by",
)
TYPES = (DUPLICATE_OF, RELATED, PARENT, CHILD)
# how the target of a stored link sees it
_REVERSE = {DUPLICATE_OF: DUPLICATED_BY, RELATED: RELATED, PARENT: CHILD}
MAX_DEPTH = 1000  # ancestors walked when checking a new parent link


class LinkExists(Conflict):
    def __init__(self, case_id: str, other_id: str, seen_as: str) -> None:
        super().__init__(
            f"Case {case_id} is already linked to case {other_id} ({seen_as}); two cases have one "
            "link: delete it first to link them another way."
        )


class HasParent(Conflict):
    def __init__(self, case_id: str, parent_id: str) -> None:
        super().__init__(
            f"Case {case_id} already has a parent, case {parent_id}; a case has one parent: "
            "delete that link first."
        )


class LinkCycle(InvalidInput):
    def __init__(self, child: str, parent: str) -> None:
        super().__init__(
            f"Case {parent} cannot be the parent of case {child}: {child} is already an ancestor "
            f"of {parent}, and parents and children form no loop.",
            fields=[{"field": "case_id", "message": "would make a parent/child loop"}],
        )


@dataclass(frozen=True)
class LinkView:
    """A link as one of its cases sees it: ``case_id`` is the other case."""

    id: str
    type: str
    case_id: str
    created_by: str
    created_at: datetime


def _seen_from(link: CaseLink, case_id: str) -> LinkView:
    if link.source_id == case_id:
        return LinkView(link.id, link.type, link.target_id, link.created_by, link.created_at)
    return LinkView(link.id, _REVERSE[link.type], link.source_id, link.created_by, link.created_at)


def _pair(a: str, b: str) -> str:
    return ":".join(sorted((a, b)))


def add(session: Session, case_id: str, link_type: str, other_id: str, who: Principal) -> LinkView:
    """Links ``case_id`` to ``other_id`` as ``link_type`` (``parent``: the other is its parent;
    ``child``: the other is its child)."""
    if link_type not in TYPES:
        raise InvalidInput(
            f"Unknown link type {link_type!r}; use one of {', '.join(TYPES)}.",
            fields=[{"field": "type", "message": f"must be one of {', '.join(TYPES)}"}],
        )
    if other_id == case_id:
        raise InvalidInput(
            "A case cannot be linked to itself.", fields=[{"field": "case_id", "message": "is this case"}]
        )
    case, other = cases.get(session, case_id), cases.get(session, other_id)
    existing = session.scalar(select(CaseLink).where(CaseLink.pair == _pair(case.id, other.id)))
    if existing is not None:
        raise LinkExists(case.id, other.id, _seen_from(existing, case.id).type)
    source, target, stored = (other, case, PARENT) if link_type == CHILD else (case, other, link_type)
    if stored == PARENT:
        _check_parent(session, source, target)
    link = CaseLink(
        id=new_id(),
        source_id=source.id,
        target_id=target.id,
        type=stored,
        pair=_pair(source.id, target.id),
        created_by=who.name,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():  # a racing link of the same pair loses here, not at commit
            session.add(link)
            session.flush()
    except IntegrityError:
        raise LinkExists(case.id, other.id, "added at the same moment") from None
    if stored == PARENT:
        source.parent_id = target.id
    _record(session, "case.linked", link, who.name)
    return _seen_from(link, case.id)


def _check_parent(session: Session, child: Case, parent: Case) -> None:
    if child.parent_id is not None:
        raise HasParent(child.id, child.parent_id)
    seen: set[str] = set()
    current = parent.parent_id
    while current is not None and len(seen) < MAX_DEPTH:
        if current == child.id:
            raise LinkCycle(child.id, parent.id)
        seen.add(current)
        current = session.scalar(select(Case.parent_id).where(Case.id == current))
        if current in seen:
            break


def _record(session: Session, event_type: str, link: CaseLink, actor: str) -> None:
    for case_id in (link.source_id, link.target_id):
        view = _seen_from(link, case_id)
        events.record(
            session,
            event_type,
            case_id=case_id,
            actor=actor,
            data={"link_id": link.id, "type": view.type, "case_id": view.case_id},
        )


def for_case(session: Session, case_id: str) -> list[LinkView]:
    """The case's links, both ways, oldest first."""
    cases.get(session, case_id)
    stmt = (
        select(CaseLink)
        .where(or_(CaseLink.source_id == case_id, CaseLink.target_id == case_id))
        .order_by(CaseLink.created_at, CaseLink.id)
    )
    return [_seen_from(link, case_id) for link in session.scalars(stmt)]


def remove(session: Session, case_id: str, link_id: str, who: Principal) -> None:
    """Deletes one of the case's links (from either of its cases)."""
    cases.get(session, case_id)
    link = session.get(CaseLink, link_id)
    if link is None or case_id not in (link.source_id, link.target_id):
        raise NotFound("link", f"{link_id} of case {case_id}")
    if link.type == PARENT:
        child = cases.get(session, link.source_id)
        if child.parent_id == link.target_id:
            child.parent_id = None
    _record(session, "case.unlinked", link, who.name)
    session.delete(link)
