"""Resolves an author identity to one customer profile across channels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.customers.models import Customer, CustomerHandle
from engine.db import new_id, utcnow
from engine.errors import NotFound

_KNOWN = "sift.customers_by_handle"  # handle -> customer seen or added in this transaction


def handle_of(source: str, author: dict[str, Any]) -> str | None:
    raw = str(author.get("handle") or "").strip()
    if not raw:
        return None
    return f"{source.strip().lower()}:{raw.lower()}"


def influence_of(author: dict[str, Any]) -> float:
    """0..1 from reach: log-scaled followers (1M ≈ 0.86), a bonus for verified accounts."""
    try:
        followers = max(0, int(author.get("followers") or 0))
    except (TypeError, ValueError):
        followers = 0
    score = min(1.0, math.log10(followers + 1) / 7.0)
    if author.get("verified") is True:
        score = min(1.0, score + 0.15)
    return round(score, 3)


def identify(session: Session, source: str, author: dict[str, Any]) -> Customer | None:
    """Finds or creates the customer behind ``author``; refreshes their influence."""
    handle = handle_of(source, author)
    if handle is None:
        return None
    known: dict[str, Customer | None] = session.info.setdefault(_KNOWN, {})
    if handle in known and (known[handle] is None or known[handle] in session):
        customer = known[handle]
    else:
        customer = session.scalar(
            select(Customer)
            .join(CustomerHandle, CustomerHandle.customer_id == Customer.id)
            .where(CustomerHandle.handle == handle)
        )
    influence = influence_of(author)
    if customer is None:
        customer = Customer(
            id=new_id(), display_name=author.get("name") or author.get("handle"), influence=influence
        )
        session.add(customer)
        session.add(CustomerHandle(handle=handle, customer_id=customer.id))
        known[handle] = customer
    else:
        customer.influence = max(customer.influence, influence)
        if author.get("name") and not customer.display_name:
            customer.display_name = author["name"]
    return customer


def prefetch(session: Session, identities: list[tuple[str, dict[str, Any]]]) -> list[Customer]:
    """Finds or creates the customers of many authors at once (a worker batch), so
    :func:`identify` needs no query of its own.

    Missing customers are created here, race-free across workers: handles are
    inserted in sorted order with ON CONFLICT DO NOTHING, so concurrent batches
    neither deadlock nor fail; a worker that loses a race drops its own row and
    uses the winner's. Returns the customers of those authors.
    """
    authors: dict[str, dict[str, Any]] = {}
    for source, author in identities:
        handle = handle_of(source, author)
        if handle is not None:
            authors.setdefault(handle, author)
    known: dict[str, Customer | None] = session.info.setdefault(_KNOWN, {})
    wanted = sorted(set(authors) - set(known))
    if wanted:
        missing = sorted(set(wanted) - set(_owners_of(session, wanted)))
        if missing:
            _create(session, {h: authors[h] for h in missing})
        for handle, customer in _owners_of(session, wanted).items():
            known[handle] = customer
    return [c for c in (known.get(h) for h in authors) if c is not None]


def _owners_of(session: Session, handles: list[str]) -> dict[str, Customer]:
    rows = session.execute(
        select(CustomerHandle.handle, Customer)
        .join(Customer, CustomerHandle.customer_id == Customer.id)
        .where(CustomerHandle.handle.in_(handles))
    )
    return {handle: customer for handle, customer in rows}


def _create(session: Session, authors: dict[str, dict[str, Any]]) -> None:
    now = utcnow()
    ids = {handle: new_id() for handle in authors}
    session.execute(
        insert(Customer),
        [
            {
                "id": ids[h],
                "display_name": a.get("name") or a.get("handle"),
                "influence": influence_of(a),
                "profile": {},
                "created_at": now,
                "updated_at": now,
            }
            for h, a in authors.items()
        ],
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(CustomerHandle.__table__)
        .on_conflict_do_nothing(index_elements=["handle"])
        .returning(CustomerHandle.handle)
    )
    won = {
        h
        for (h,) in session.execute(
            stmt, [{"handle": h, "customer_id": ids[h], "created_at": now} for h in sorted(authors)]
        )
    }
    lost = [ids[h] for h in authors if h not in won]
    if lost:
        session.execute(delete(Customer).where(Customer.id.in_(lost)))


def case_counts(session: Session, customer_id: str) -> tuple[int, int]:
    """(open or waiting cases, all cases) of a customer, across channels."""
    from engine.cases.models import Case

    stmt = select(
        func.count().filter(Case.status.in_(("open", "waiting"))),
        func.count(),
    ).where(Case.customer_id == customer_id)
    open_count, total = session.execute(stmt).one()
    return int(open_count or 0), int(total or 0)


def handles(session: Session, customer_id: str) -> list[str]:
    stmt = select(CustomerHandle.handle).where(CustomerHandle.customer_id == customer_id)
    return sorted(session.scalars(stmt))


def get(session: Session, customer_id: str) -> Customer:
    """The customer, following merges to the surviving profile."""
    customer = session.get(Customer, customer_id)
    for _ in range(10):
        if customer is None or customer.merged_into is None:
            break
        customer = session.get(Customer, customer.merged_into)
    if customer is None:
        raise NotFound("customer", customer_id)
    return customer


def by_handle(session: Session, handle: str) -> Customer:
    customer_id = session.scalar(
        select(CustomerHandle.customer_id).where(CustomerHandle.handle == handle.lower())
    )
    if customer_id is None:
        raise NotFound("customer with handle", handle)
    return get(session, customer_id)


@dataclass(frozen=True)
class Profile:
    """The 360 view: every identity, case and recent signal of one customer, across channels."""

    customer: Customer
    handles: list[str]
    cases: list[Any]
    signals: list[Any]


def profile(session: Session, customer_id: str, *, signal_limit: int = 50) -> Profile:
    from engine.cases.models import Case
    from engine.signals.models import Signal

    customer = get(session, customer_id)
    cases = list(
        session.scalars(select(Case).where(Case.customer_id == customer.id).order_by(Case.created_at.desc()))
    )
    signals = list(
        session.scalars(
            select(Signal)
            .where(Signal.customer_id == customer.id)
            .order_by(Signal.received_at.desc())
            .limit(signal_limit)
        )
    )
    return Profile(customer=customer, handles=handles(session, customer.id), cases=cases, signals=signals)
