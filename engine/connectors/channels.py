"""Replies go back through the connector that brought the mention in: one channel adapter per
kind that replies (mastodon, bluesky, reddit), registered with the delivery service.

The adapter finds the mention (the reply's channel and ``in_reply_to``), the connector its
metadata names, and posts through that connector's kind with its credentials. A mention that
no connector brought (posted to the API by another service) goes to ``SIFT_REPLY_ENDPOINT`` as
before, when one is set; otherwise the attempt fails saying so."""

from __future__ import annotations

from sqlalchemy import select

from engine.config import get_settings
from engine.connectors import bluesky, mastodon, reddit, secrets
from engine.connectors.models import Connector
from engine.connectors.replying import ReplyTo
from engine.db import unit_of_work
from engine.delivery import http
from engine.delivery import replies as outbound
from engine.delivery.http import Sent
from engine.delivery.models import OutboundReply
from engine.delivery.replies import HttpEndpointAdapter, Outgoing
from engine.signals.models import Signal

REPLYING = {"mastodon": mastodon, "bluesky": bluesky, "reddit": reddit}


class ConnectorAdapter:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.module = REPLYING[kind]

    def send(self, reply: Outgoing) -> Sent:
        settings = get_settings()
        with unit_of_work() as session:
            mention = session.scalar(
                select(Signal).where(Signal.source == reply.channel, Signal.external_id == reply.in_reply_to)
            )
            meta = dict(mention.meta or {}) if mention is not None else {}
            connector = session.get(Connector, meta["connector_id"]) if meta.get("connector_id") else None
            queued = session.get(OutboundReply, reply.id)
            if connector is None:
                found = None
            else:
                found = (
                    connector.id,
                    dict(connector.options),
                    connector.credentials,
                    dict(mention.author or {}) if mention else {},
                )
            created_at = queued.created_at if queued is not None else None
        client = http.client(settings.delivery_timeout_seconds)
        try:
            if found is None or created_at is None:
                if settings.reply_endpoint:
                    return HttpEndpointAdapter(settings.reply_endpoint, settings.reply_secret, client).send(
                        reply
                    )
                why = (
                    "no connector brought this mention in"
                    if mention is not None
                    else "the mention is not stored"
                )
                return Sent(False, None, f"{why}, and no SIFT_REPLY_ENDPOINT is set", 0.0)
            connector_id, options, stored, author = found
            try:
                creds = secrets.decrypt(stored)
            except secrets.CredentialsUnreadable as err:
                return Sent(False, None, str(err), 0.0)
            to = ReplyTo(
                connector_id=connector_id,
                options=options,
                credentials=creds,
                mention_id=str(reply.in_reply_to),
                mention=meta,
                author=author,
                reply=reply,
                created_at=created_at,
                client=client,
            )
            return self.module.reply(to)
        finally:
            client.close()


def install() -> None:
    for kind in REPLYING:
        outbound.register(kind, ConnectorAdapter(kind))
