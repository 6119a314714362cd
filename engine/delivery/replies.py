"""Outbound replies: what a CSR wrote in the respond step, on its way to the customer.

:func:`queue` stores the reply (``queued``) and records ``reply.queued`` in the transaction that
completes the task; the delivery service then hands it to the channel adapter of its channel,
after that commit, and records ``reply.sent`` only once the adapter accepted it, or
``reply.failed`` with the error for each failed attempt (retried with backoff, ``failed`` after
``reply_max_attempts``). With no adapter for the channel (no ``SIFT_REPLY_ENDPOINT``) the reply
stays ``queued`` with ``held_reason`` saying so, and goes out once one is configured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, cast

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import get_settings
from engine.db import new_id, unit_of_work, utcnow
from engine.delivery import http, leases, metrics, signing
from engine.delivery.http import Sent
from engine.delivery.models import FAILED, QUEUED, REPLY_STATUSES, SENT, OutboundReply
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events

NO_ADAPTER = (
    "No channel adapter is configured (set SIFT_REPLY_ENDPOINT); the reply stays queued until one is."
)


@dataclass(frozen=True)
class Outgoing:
    id: str
    case_id: str
    channel: str
    in_reply_to: str | None
    text: str


class ChannelAdapter(Protocol):
    """Sends one reply to its channel. A connector for a network implements this; it must be
    idempotent per ``reply.id`` (a reply may be handed over again after a crash)."""

    def send(self, reply: Outgoing) -> Sent: ...


class HttpEndpointAdapter:
    """POSTs the reply as JSON to one URL (a connector service): a 2xx is sent, and its answer's
    ``external_id``, if any, is kept as the id the network gave the reply."""

    def __init__(self, url: str, secret: str | None, client: httpx.Client) -> None:
        self.url, self.secret, self.client = url, secret, client

    def send(self, reply: Outgoing) -> Sent:
        body = json.dumps(
            {
                "id": reply.id,
                "case_id": reply.case_id,
                "channel": reply.channel,
                "in_reply_to": reply.in_reply_to,
                "text": reply.text,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        headers = {"Sift-Reply-Id": reply.id}
        if self.secret:
            headers[signing.HEADER] = signing.signature(self.secret, body)
        return http.post(self.client, self.url, body, headers)


_ADAPTERS: dict[str, ChannelAdapter] = {}


def register(channel: str, adapter: ChannelAdapter) -> None:
    """A channel's own adapter (a connector) instead of the HTTP endpoint."""
    _ADAPTERS[channel] = adapter


def unregister(channel: str) -> None:
    _ADAPTERS.pop(channel, None)


def adapter_for(channel: str, client: httpx.Client | None = None) -> ChannelAdapter | None:
    if channel in _ADAPTERS:
        return _ADAPTERS[channel]
    settings = get_settings()
    if not settings.reply_endpoint:
        return None
    return HttpEndpointAdapter(
        settings.reply_endpoint,
        settings.reply_secret,
        client or http.client(settings.delivery_timeout_seconds),
    )


def can_send(channel: str) -> bool:
    return channel in _ADAPTERS or bool(get_settings().reply_endpoint)


def queue(
    session: Session,
    *,
    case_id: str,
    channel: str,
    in_reply_to: str | None,
    text: str,
    actor: str,
    canned: dict[str, str] | None = None,
) -> OutboundReply:
    """Stores the reply and records ``reply.queued``; ``canned`` (``{"id", "name"}``) names the
    canned reply its text was rendered from, on the reply and on the timeline."""
    held = None if can_send(channel) else NO_ADAPTER
    reply = OutboundReply(
        id=new_id(),
        case_id=case_id,
        channel=channel,
        in_reply_to=in_reply_to,
        text=text,
        actor=actor,
        status=QUEUED,
        attempts=0,
        next_attempt_at=utcnow(),
        held_reason=held,
        canned_reply_id=canned["id"] if canned else None,
        created_at=utcnow(),
    )
    session.add(reply)
    data: dict[str, Any] = {
        "reply_id": reply.id,
        "channel": channel,
        "in_reply_to": in_reply_to,
        "text": text,
    }
    if canned:
        data["canned_reply"] = {"id": canned["id"], "name": canned["name"]}
    if held:
        data["held"] = held
    events.record(session, "reply.queued", case_id=case_id, actor=actor, data=data)
    return reply


def list_replies(
    session: Session, *, case_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[OutboundReply]:
    if status is not None and status not in REPLY_STATUSES:
        raise InvalidInput(
            f"Unknown reply status {status!r}; use one of {', '.join(REPLY_STATUSES)}.",
            fields=[{"field": "status", "message": "unknown value"}],
        )
    stmt = select(OutboundReply)
    if case_id is not None:
        stmt = stmt.where(OutboundReply.case_id == case_id)
    if status is not None:
        stmt = stmt.where(OutboundReply.status == status)
    return list(
        session.scalars(stmt.order_by(OutboundReply.created_at.desc(), OutboundReply.id).limit(limit))
    )


def retry(session: Session, reply_id: str, *, actor: str) -> OutboundReply:
    """A failed reply is queued again, due now, with its attempts reset."""
    reply = session.get(OutboundReply, reply_id)
    if reply is None:
        raise NotFound("reply", reply_id)
    if reply.status != FAILED:
        raise Conflict(f"Reply {reply_id} is {reply.status}; only a failed reply can be retried.")
    reply.status, reply.attempts, reply.next_attempt_at = QUEUED, 0, utcnow()
    reply.held_reason = None if can_send(reply.channel) else NO_ADAPTER
    events.record(
        session,
        "reply.queued",
        case_id=reply.case_id,
        actor=actor,
        data={"reply_id": reply.id, "channel": reply.channel, "retry": True},
    )
    return reply


@dataclass(frozen=True)
class Job:
    reply: Outgoing
    token: str
    attempts: int


def claim_due(session: Session, *, owner: str, limit: int, lease_seconds: float) -> list[Job]:
    """Leases due queued replies whose channel has an adapter."""
    now = utcnow()
    channels = None if get_settings().reply_endpoint else list(_ADAPTERS)
    stmt = select(OutboundReply).where(
        OutboundReply.status == QUEUED,
        OutboundReply.next_attempt_at <= now,
        leases.lease_free(OutboundReply, now),
    )
    if channels is not None:
        if not channels:
            return []
        stmt = stmt.where(OutboundReply.channel.in_(channels))
    stmt = stmt.order_by(OutboundReply.next_attempt_at).limit(limit)
    rows = leases.claim(session, stmt, OutboundReply, owner=owner, lease_seconds=lease_seconds)
    for row in rows:
        row.held_reason = None
    return [
        Job(Outgoing(r.id, r.case_id, r.channel, r.in_reply_to, r.text), cast(str, r.lease_token), r.attempts)
        for r in rows
    ]


def settle(job: Job, sent: Sent) -> str:
    """Writes one attempt's outcome under the claim's lease, with its timeline event."""
    settings = get_settings()
    now = utcnow()
    attempts = job.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": sent.status_code,
        "last_error": sent.error,
    }
    data: dict[str, Any] = {"reply_id": job.reply.id, "channel": job.reply.channel, "attempt": attempts}
    if sent.ok:
        external = sent.response.get("external_id") if isinstance(sent.response, dict) else None
        values.update(status=SENT, sent_at=now, external_id=str(external)[:256] if external else None)
        event = "reply.sent"
        data["external_id"] = values["external_id"]
    else:
        final = attempts >= settings.reply_max_attempts
        wait = leases.backoff_seconds(
            attempts, settings.reply_retry_base_seconds, settings.reply_retry_max_seconds
        )
        retry_at = None if final else now + timedelta(seconds=wait)
        values.update(status=FAILED if final else QUEUED, next_attempt_at=retry_at or now)
        event = "reply.failed"
        data.update(
            error=sent.error,
            status_code=sent.status_code,
            final=final,
            next_attempt_at=retry_at.isoformat() if retry_at else None,
        )
    with unit_of_work() as session:
        if not leases.settle(session, OutboundReply, job.reply.id, job.token, **values):
            return "lost"
        events.record(session, event, case_id=job.reply.case_id, actor="replies", data=data)
    metrics.observe("reply", sent)
    return str(values["status"])
