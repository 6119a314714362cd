"""Webhook subscriptions, and their deliveries fanned out from the outbox.

Every event recorded with ``outbox=True`` is an outbox row written in the transaction of the
change it describes. :func:`fan_out` turns committed rows into one delivery per matching active
subscription (a subscription gets the events recorded from its creation on) and marks each row
``delivered_at`` (handed to the subscriptions) in the same transaction, claiming rows with
``SKIP LOCKED`` on PostgreSQL so that with several workers each event fans out once.
:func:`claim_due` and :func:`settle` send them under a fenced lease (engine/delivery/leases.py).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from engine.config import get_settings
from engine.db import new_id, unit_of_work, utcnow
from engine.delivery import leases, metrics, signing
from engine.delivery.http import Sent
from engine.delivery.models import (
    ACTIVE,
    DELIVERED,
    DELIVERY_STATUSES,
    DISABLED,
    FAILED,
    PENDING,
    WebhookDelivery,
    WebhookSubscription,
)
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events
from engine.events.models import OutboxEvent
from engine.events.types import EVENT_TYPES, delivered, matches

MIN_SECRET, MAX_SECRET = 16, 200
HISTORY_KEPT = 20


# --- subscriptions --------------------------------------------------------------------------


def check_url(url: str) -> None:
    problem = None
    parts = urlsplit(url)
    if len(url) > 2000:
        problem = "is longer than 2000 characters"
    elif any(c.isspace() for c in url):
        problem = "contains whitespace"
    elif parts.scheme not in ("http", "https"):
        problem = "must start with http:// or https://"
    elif not parts.hostname:
        problem = "has no host"
    elif parts.username or parts.password:
        problem = "must not carry a user or password (sign with the secret instead)"
    if problem:
        raise InvalidInput(f"The webhook url {problem}.", fields=[{"field": "url", "message": problem}])


def check_events(patterns: list[str]) -> None:
    known = [t for t in EVENT_TYPES if delivered(t)]
    bad = []
    for i, pattern in enumerate(patterns):
        prefix = pattern[:-1] if pattern.endswith(".*") else None
        if pattern == "*" or pattern in known or (prefix and any(t.startswith(prefix) for t in known)):
            continue
        why = "is recorded but never delivered" if pattern in EVENT_TYPES else "is not an event type"
        bad.append({"field": f"events.{i}", "message": f"{pattern!r} {why}"})
    if not patterns:
        bad.append({"field": "events", "message": 'name at least one event type, or ["*"]'})
    if bad:
        raise InvalidInput(
            "Some event types cannot be subscribed to; docs/api.md lists the delivered ones.", fields=bad
        )


def create(
    session: Session,
    *,
    url: str,
    events_: list[str],
    secret: str | None,
    description: str | None,
    actor: str,
) -> tuple[WebhookSubscription, str | None]:
    """Returns the subscription and, when Sift made the secret, that secret (shown this once)."""
    check_url(url)
    check_events(events_)
    generated = None
    if secret is None:
        secret = generated = "whsec_" + secrets.token_urlsafe(32)
    elif not MIN_SECRET <= len(secret) <= MAX_SECRET:
        message = f"must be {MIN_SECRET} to {MAX_SECRET} characters (or left out: Sift makes one)"
        raise InvalidInput(f"The secret {message}.", fields=[{"field": "secret", "message": message}])
    sub = WebhookSubscription(
        id=new_id(),
        url=url,
        events=list(dict.fromkeys(events_)),
        secret=secret,
        description=description,
        status=ACTIVE,
        consecutive_failures=0,
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(sub)
    events.record(
        session, "webhook.created", actor=actor, data={"id": sub.id, "url": url, "events": sub.events}
    )
    return sub, generated


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)))


def get(session: Session, subscription_id: str) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound("webhook", subscription_id)
    return sub


def remove(session: Session, subscription_id: str, *, actor: str) -> None:
    """Deletes the subscription and its delivery log; nothing more is sent to it."""
    sub = get(session, subscription_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    session.delete(sub)
    events.record(session, "webhook.deleted", actor=actor, data={"id": sub.id, "url": sub.url})


def enable(session: Session, subscription_id: str, *, actor: str) -> WebhookSubscription:
    """A disabled subscription is active again; its pending deliveries go out from now."""
    sub = get(session, subscription_id)
    if sub.status == ACTIVE:
        return sub
    sub.status, sub.consecutive_failures = ACTIVE, 0
    sub.disabled_at = sub.disabled_reason = None
    events.record(session, "webhook.enabled", actor=actor, data={"id": sub.id, "url": sub.url})
    return sub


# --- the delivery log -----------------------------------------------------------------------


def list_deliveries(
    session: Session, subscription_id: str, *, status: str | None = None, limit: int = 50
) -> list[WebhookDelivery]:
    get(session, subscription_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidInput(
            f"Unknown delivery status {status!r}; use one of {', '.join(DELIVERY_STATUSES)}.",
            fields=[{"field": "status", "message": "unknown value"}],
        )
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    order = (WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return list(session.scalars(stmt.order_by(*order).limit(limit)))


def redeliver(session: Session, subscription_id: str, delivery_id: str) -> WebhookDelivery:
    """Sends a delivery again, now, with the same id (a receiver that has it may ignore it) and a
    fresh timestamp and signature; its attempts start again from zero."""
    sub = get(session, subscription_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != sub.id:
        raise NotFound("delivery", f"{delivery_id} of webhook {subscription_id}")
    if delivery.status == PENDING:
        raise Conflict(f"Delivery {delivery_id} is already queued (attempt {delivery.attempts + 1} next).")
    if sub.status != ACTIVE:
        raise Conflict(
            f"Webhook {sub.id} is disabled; enable it first (POST /api/v1/webhooks/{sub.id}:enable)."
        )
    delivery.status, delivery.attempts, delivery.next_attempt_at = PENDING, 0, utcnow()
    return delivery


# --- fan-out and sending --------------------------------------------------------------------


def fan_out(session: Session, limit: int = 500) -> int:
    """Queues a delivery per matching active subscription for up to ``limit`` committed outbox
    rows not yet handed on; returns how many rows it handed on. With no active subscription
    every such row is handed on by one statement (a worker batch leaves hundreds)."""
    active = select(WebhookSubscription.id).where(WebhookSubscription.status == ACTIVE).limit(1)
    if session.scalar(active) is None:
        handed = session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.delivered_at.is_(None))
            .values(delivered_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(handed, "rowcount", 0) or 0)
    # the columns it needs, not the rows: a worker batch leaves hundreds, and their payloads
    # (JSON read into objects) cost more than the fan-out itself
    stmt = (
        select(OutboxEvent.seq, OutboxEvent.id, OutboxEvent.type, OutboxEvent.created_at)
        .where(OutboxEvent.delivered_at.is_(None))
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxEvent)
    rows = list(session.execute(stmt))
    if not rows:
        return 0
    subs = list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.status == ACTIVE)))
    now = utcnow()
    new = [
        {
            "id": new_id(),
            "subscription_id": sub.id,
            "event_id": row.id,
            "event_type": row.type,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "history": [],
            "created_at": now,
        }
        for row in rows
        for sub in subs
        if row.created_at >= sub.created_at and matches(sub.events, row.type)
    ]
    if new:
        session.execute(insert(cast(Table, WebhookDelivery.__table__)), new)
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.seq.in_([r.seq for r in rows]))
        .values(delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(rows)


@dataclass(frozen=True)
class Job:
    delivery_id: str
    token: str
    subscription_id: str
    url: str
    secret: str
    body: bytes
    attempts: int
    history: list[Any]

    def headers(self) -> dict[str, str]:
        return {
            signing.HEADER: signing.signature(self.secret, self.body),
            signing.DELIVERY_HEADER: self.delivery_id,
        }


def body(delivery: WebhookDelivery, event: OutboxEvent) -> bytes:
    payload = event.payload or {}
    document = {
        "id": delivery.id,
        "type": delivery.event_type,
        "created_at": event.created_at.isoformat(),
        "data": {
            "event_id": event.id,
            "case_id": event.case_id,
            "actor": payload.get("actor"),
            "data": payload.get("data") or {},
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def claim_due(session: Session, *, owner: str, limit: int, lease_seconds: float) -> list[Job]:
    """Leases due deliveries of active subscriptions, oldest first, with what sending them needs."""
    now = utcnow()
    stmt = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            leases.lease_free(WebhookDelivery, now),
            WebhookSubscription.status == ACTIVE,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    claimed = leases.claim(session, stmt, WebhookDelivery, owner=owner, lease_seconds=lease_seconds)
    if not claimed:
        return []
    subs = {
        s.id: s
        for s in session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.id.in_({d.subscription_id for d in claimed})
            )
        )
    }
    found = {
        e.id: e
        for e in session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_([d.event_id for d in claimed])))
    }
    return [
        Job(
            d.id,
            cast(str, d.lease_token),
            d.subscription_id,
            subs[d.subscription_id].url,
            subs[d.subscription_id].secret,
            body(d, found[d.event_id]),
            d.attempts,
            list(d.history or []),
        )
        for d in claimed
    ]


def settle(job: Job, sent: Sent) -> str:
    """Writes one attempt's outcome (fenced by the claim); returns the delivery's status, or
    ``lost`` when the lease had passed on. Failures count against the subscription, which is
    disabled, with a ``webhook.disabled`` event, after too many in a row."""
    settings = get_settings()
    now = utcnow()
    attempts = job.attempts + 1
    entry = {
        "at": now.isoformat(),
        "attempt": attempts,
        "status_code": sent.status_code,
        "error": sent.error,
        "ms": round(sent.elapsed_ms, 1),
    }
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": sent.status_code,
        "last_error": sent.error,
        "history": [*job.history, entry][-HISTORY_KEPT:],
    }
    if sent.ok:
        values.update(status=DELIVERED, delivered_at=now)
    else:
        final = attempts >= settings.webhook_max_attempts
        wait = leases.backoff_seconds(
            attempts, settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds
        )
        values.update(status=FAILED if final else PENDING, next_attempt_at=now + timedelta(seconds=wait))
    with unit_of_work() as session:
        if not leases.settle(session, WebhookDelivery, job.delivery_id, job.token, **values):
            return "lost"
        _count(session, job.subscription_id, sent, settings.webhook_disable_after_failures)
    metrics.observe("webhook", sent)
    return str(values["status"])


def _count(session: Session, subscription_id: str, sent: Sent, disable_after: int) -> None:
    sub = session.get(WebhookSubscription, subscription_id, with_for_update=True, populate_existing=True)
    if sub is None:
        return
    if sent.ok:
        sub.consecutive_failures = 0
        return
    sub.consecutive_failures += 1
    if sub.status == ACTIVE and sub.consecutive_failures >= disable_after:
        sub.status, sub.disabled_at = DISABLED, utcnow()
        sub.disabled_reason = f"{sub.consecutive_failures} failed attempts in a row; the last: {sent.error}"
        events.record(
            session,
            "webhook.disabled",
            actor="webhooks",
            data={
                "id": sub.id,
                "url": sub.url,
                "failures": sub.consecutive_failures,
                "last_error": sent.error,
            },
        )
