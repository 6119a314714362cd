"""Webhook subscriptions and their delivery logs (admin).

The secret is write-only, as GitHub treats a webhook's secret: a secret the caller sends is
never shown back; one Sift generates (``secret`` left out) is shown once, in the 201 answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Caller, DbSession
from engine.delivery import webhooks
from engine.delivery.models import DELIVERY_STATUSES, WebhookSubscription

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
ADMIN = ("admin",)
Id = Annotated[str, Path(min_length=1, max_length=32)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=100)
    secret: str | None = Field(default=None, description="16-200 characters; left out, Sift makes one")
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[str]
    description: str | None
    status: str
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    created_by: str | None


class WebhookCreated(WebhookOut):
    secret: str | None = Field(description="only when Sift generated it, and only in this answer")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[dict[str, Any]]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


def _out(sub: WebhookSubscription) -> WebhookOut:
    return WebhookOut.model_validate(sub)


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookIn, caller: Caller, session: DbSession) -> WebhookCreated:
    """Events recorded from now on that match ``events`` are POSTed to ``url``, signed."""
    caller.require(*ADMIN)
    sub, generated = webhooks.create(
        session,
        url=body.url,
        events_=body.events,
        secret=body.secret,
        description=body.description,
        actor=caller.name,
    )
    session.flush()
    return WebhookCreated(**_out(sub).model_dump(), secret=generated)


@router.get("", response_model=WebhookList)
def list_webhooks(caller: Caller, session: DbSession) -> WebhookList:
    caller.require(*ADMIN)
    return WebhookList(items=[_out(s) for s in webhooks.list_subscriptions(session)])


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: Id, caller: Caller, session: DbSession) -> WebhookOut:
    caller.require(*ADMIN)
    return _out(webhooks.get(session, webhook_id))


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: Id, caller: Caller, session: DbSession) -> None:
    """The subscription and its delivery log are gone; nothing more is sent to it."""
    caller.require(*ADMIN)
    webhooks.remove(session, webhook_id, actor=caller.name)


@router.post("/{webhook_id}:enable", response_model=WebhookOut)
def enable_webhook(webhook_id: Id, caller: Caller, session: DbSession) -> WebhookOut:
    """A disabled subscription is active again; its failure count starts from zero."""
    caller.require(*ADMIN)
    return _out(webhooks.enable(session, webhook_id, actor=caller.name))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    webhook_id: Id,
    caller: Caller,
    session: DbSession,
    status: Annotated[str | None, Query(description=" | ".join(DELIVERY_STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    """Newest first, each with its last 20 attempts."""
    caller.require(*ADMIN)
    rows = webhooks.list_deliveries(session, webhook_id, status=status, limit=limit)
    return DeliveryList(items=[DeliveryOut.model_validate(d) for d in rows])


@router.post("/{webhook_id}/deliveries/{delivery_id}:redeliver", response_model=DeliveryOut)
def redeliver(webhook_id: Id, delivery_id: Id, caller: Caller, session: DbSession) -> DeliveryOut:
    """Queued again now, same delivery id, fresh signature; 409 if it is already queued or the
    subscription is disabled."""
    caller.require(*ADMIN)
    return DeliveryOut.model_validate(webhooks.redeliver(session, webhook_id, delivery_id))
