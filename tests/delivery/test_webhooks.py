"""Webhooks end to end: subscriptions through the API, events from the outbox delivered to a real
HTTP server on 127.0.0.1, signed, retried with backoff, logged, redelivered, disabled."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

from engine.db import unit_of_work, utcnow
from engine.delivery import webhooks
from engine.delivery.models import WebhookDelivery
from engine.events import service as events
from tests.delivery.receiver import receiver, replay
from tests.helpers import auth, deliver, drain, signal_body

SECRET = "a-receiver-secret-0123456789"


def _subscribe(client, keys, url, events_=("*",), secret=SECRET):
    body = {"url": url, "events": list(events_)}
    if secret is not None:
        body["secret"] = secret
    r = client.post("/api/v1/webhooks", json=body, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    return r.json()


def _deliveries(client, keys, hook_id, **params):
    r = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", params=params, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _open_case(client, keys) -> None:
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    assert r.status_code == 202
    drain()


def test_a_subscription_never_shows_a_secret_it_was_given_and_shows_a_generated_one_once(client, keys):
    admin = auth(keys["admin"])
    given = _subscribe(client, keys, "https://example.test/hook", ["case.opened", "sla.*"])
    assert given["secret"] is None and given["status"] == "active"
    assert given["events"] == ["case.opened", "sla.*"]
    made = _subscribe(client, keys, "http://127.0.0.1:9/hook", secret=None)
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 30
    listed = client.get("/api/v1/webhooks", headers=admin).json()["items"]
    assert {h["id"] for h in listed} == {given["id"], made["id"]}
    assert all("secret" not in h for h in listed)
    assert "secret" not in client.get(f"/api/v1/webhooks/{made['id']}", headers=admin).json()
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/webhooks/{made['id']}", headers=admin).status_code == 404
    with unit_of_work() as s:
        audit = [e.type for e in events.audit_trail(s, "webhook.")]
    assert audit == ["webhook.deleted", "webhook.created", "webhook.created"]


def test_bad_urls_event_types_and_secrets_are_refused_with_the_field_named(client, keys):
    admin = auth(keys["admin"])
    cases = [
        ({"url": "ftp://example.test/x", "events": ["*"]}, "url", "http:// or https://"),
        ({"url": "example.test/hook", "events": ["*"]}, "url", "http:// or https://"),
        ({"url": "https:///nohost", "events": ["*"]}, "url", "no host"),
        ({"url": "https://u:p@example.test/", "events": ["*"]}, "url", "user or password"),
        ({"url": "https://example.test/", "events": ["case.openned"]}, "events.0", "not an event type"),
        ({"url": "https://example.test/", "events": ["*", "task.created"]}, "events.1", "never delivered"),
        ({"url": "https://example.test/", "events": ["nothing.*"]}, "events.0", "not an event type"),
        ({"url": "https://example.test/", "events": ["*"], "secret": "short"}, "secret", "16 to 200"),
    ]
    for body, field, message in cases:
        r = client.post("/api/v1/webhooks", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] == "InvalidInput"
        assert [(f["field"], message in f["message"]) for f in r.json()["fields"]] == [(field, True)], (
            r.json()
        )
    empty = client.post(
        "/api/v1/webhooks", json={"url": "https://example.test/", "events": []}, headers=admin
    )
    assert empty.status_code == 422
    assert client.get("/api/v1/webhooks", headers=admin).json()["items"] == []


def test_an_event_is_delivered_signed_with_the_timestamp_and_the_delivery_id(client, keys, settings_env):
    with receiver() as rx:
        hook = _subscribe(client, keys, rx.url, ["case.*"])
        _open_case(client, keys)
        deliver()
        opened = [r for r in rx.requests if r.json()["type"] == "case.opened"]
        assert len(opened) == 1
        got = opened[0]
        doc = got.json()
        assert set(doc) == {"id", "type", "created_at", "data"}
        assert doc["data"]["case_id"] and doc["data"]["event_id"] and "data" in doc["data"]
        assert got.headers["sift-delivery"] == doc["id"]
        t, v1 = (p.split("=", 1)[1] for p in got.headers["sift-signature"].split(","))
        expected = hmac.new(SECRET.encode(), f"{t}.".encode() + got.body, hashlib.sha256).hexdigest()
        assert v1 == expected and abs(time.time() - int(t)) < 60
        assert {r.json()["type"] for r in rx.requests} <= {"case.opened", "case.updated", "case.claimed"}
        assert not any(r.json()["type"].startswith("signal.") for r in rx.requests)  # not subscribed
    log = _deliveries(client, keys, hook["id"])
    mine = next(d for d in log if d["id"] == doc["id"])
    assert mine["status"] == "delivered" and mine["attempts"] == 1 and mine["last_status_code"] == 200
    assert mine["history"][0]["status_code"] == 200


def test_a_failing_receiver_gets_the_delivery_again_with_growing_waits_until_it_answers(
    client, keys, settings_env
):
    settings_env(webhook_retry_base_seconds=0.1)
    with receiver(statuses=[500, 503]) as rx:
        hook = _subscribe(client, keys, rx.url, ["case.opened"])
        _open_case(client, keys)
        deliver(lambda: any(r.status == 200 for r in rx.requests))
        assert [r.status for r in rx.requests] == [500, 503, 200]
        assert len({r.json()["id"] for r in rx.requests}) == 1  # one delivery id on every attempt
        stamps = [int(r.headers["sift-signature"].split(",")[0][2:]) for r in rx.requests]
        assert stamps == sorted(stamps)
    (d,) = _deliveries(client, keys, hook["id"])
    assert d["status"] == "delivered" and d["attempts"] == 3
    assert [h["status_code"] for h in d["history"]] == [500, 503, 200]
    assert [h["error"] for h in d["history"]] == ["HTTP 500", "HTTP 503", None]
    at = [h["at"] for h in d["history"]]
    gaps = [(b - a).total_seconds() for a, b in zip(map(_dt, at), map(_dt, at[1:]), strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # base, then doubled


def _dt(s):
    from datetime import datetime

    return datetime.fromisoformat(s)


def test_a_receiver_refuses_replays_and_a_redelivery_keeps_the_delivery_id(client, keys, settings_env):
    with receiver(secret=SECRET) as rx:
        hook = _subscribe(client, keys, rx.url, ["case.opened"])
        _open_case(client, keys)
        deliver()
        (first,) = rx.requests
        assert first.status == 200
        assert replay(rx.url, first.headers, first.body) == 409  # the same delivery id again
        forged = first.body.replace(b'"case.opened"', b'"case.closed"')
        assert replay(rx.url, first.headers, forged) == 401  # the signature covers the body
        old = int(time.time()) - 3600
        stale_sig = hmac.new(SECRET.encode(), f"{old}.".encode() + first.body, hashlib.sha256).hexdigest()
        stale = {**first.headers, "sift-signature": f"t={old},v1={stale_sig}"}
        rx.seen.clear()
        assert replay(rx.url, stale, first.body) == 408  # too old, even though signed
        rx.seen.add(first.json()["id"])

        admin = auth(keys["admin"])
        delivery_id = first.json()["id"]
        r = client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery_id}:redeliver", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["attempts"] == 0
        again = client.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery_id}:redeliver", headers=admin
        )
        assert again.status_code == 409 and "already queued" in again.json()["detail"]
        deliver()
        second = rx.requests[-1]
        assert second.json()["id"] == delivery_id and second.body == first.body
        stamp = lambda r: int(r.headers["sift-signature"].split(",")[0][2:])  # noqa: E731
        assert stamp(second) >= stamp(first)  # signed when sent, not when first queued
        assert second.status == 409  # the receiver had it: a redelivery is safe to refuse
    missing = client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/nope:redeliver", headers=auth(keys["admin"])
    )
    assert missing.status_code == 404


def test_repeated_failures_disable_the_subscription_with_an_event_and_enabling_resumes(
    client, keys, settings_env
):
    settings_env(webhook_disable_after_failures=3, webhook_max_attempts=10, webhook_retry_base_seconds=0.02)
    with receiver(statuses=[500] * 50) as rx, receiver() as watcher:
        hook = _subscribe(client, keys, rx.url, ["case.opened"])
        _subscribe(client, keys, watcher.url, ["webhook.*"])
        _open_case(client, keys)
        admin = auth(keys["admin"])
        deliver(
            lambda: client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json()["status"] == "disabled"
        )
        state = client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json()
        assert state["consecutive_failures"] == 3 and "HTTP 500" in state["disabled_reason"]
        deliver()
        assert len(rx.requests) == 3  # nothing more is sent to a disabled subscription
        told = [r.json() for r in watcher.requests if r.json()["type"] == "webhook.disabled"]
        assert len(told) == 1 and told[0]["data"]["data"]["id"] == hook["id"]
        (pending,) = _deliveries(client, keys, hook["id"])
        assert pending["status"] == "pending" and pending["attempts"] == 3
        redo = client.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{pending['id']}:redeliver", headers=admin
        )
        assert redo.status_code == 409
        rx.statuses.clear()
        enabled = client.post(f"/api/v1/webhooks/{hook['id']}:enable", headers=admin).json()
        assert enabled["status"] == "active" and enabled["consecutive_failures"] == 0
        deliver(lambda: any(r.status == 200 for r in rx.requests))
    (done,) = _deliveries(client, keys, hook["id"])
    assert done["status"] == "delivered" and done["attempts"] == 4


def test_a_delivery_that_fails_every_attempt_is_failed_and_listed(client, keys, settings_env):
    settings_env(webhook_max_attempts=2, webhook_retry_base_seconds=0.02)
    hook = _subscribe(client, keys, "http://127.0.0.1:9/refused", ["case.opened"])  # nothing listens
    _open_case(client, keys)
    deliver(lambda: bool(_deliveries(client, keys, hook["id"], status="failed")))
    (d,) = _deliveries(client, keys, hook["id"], status="failed")
    assert d["attempts"] == 2 and "could not connect" in d["last_error"] and d["last_status_code"] is None
    assert (
        client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries", params={"status": "odd"}, headers=auth(keys["admin"])
        ).status_code
        == 422
    )


def test_a_claimed_attempt_is_not_claimed_again_and_a_sender_past_its_lease_cannot_settle(client, keys):
    _subscribe(client, keys, "http://127.0.0.1:9/x", ["case.opened"])
    _open_case(client, keys)
    with unit_of_work() as s:
        assert webhooks.fan_out(s) > 0
    with unit_of_work() as s:
        (job,) = webhooks.claim_due(s, owner="one", limit=10, lease_seconds=60)
    with unit_of_work() as s:
        assert webhooks.claim_due(s, owner="two", limit=10, lease_seconds=60) == []
        s.get(WebhookDelivery, job.delivery_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    with unit_of_work() as s:  # the first holder looks dead: the second takes over
        (taken,) = webhooks.claim_due(s, owner="two", limit=10, lease_seconds=60)
    from engine.delivery.http import Sent

    assert webhooks.settle(job, Sent(True, 200, None, 1.0)) == "lost"
    assert webhooks.settle(taken, Sent(True, 200, None, 1.0)) == "delivered"
    with unit_of_work() as s:
        d = s.get(WebhookDelivery, job.delivery_id)
        assert d.status == "delivered" and d.attempts == 1 and d.lease_token is None


def test_each_outbox_event_fans_out_once_and_only_to_subscriptions_that_existed(client, keys):
    _open_case(client, keys)  # before any subscription
    with unit_of_work() as s:
        assert webhooks.fan_out(s) > 0
        assert webhooks.fan_out(s) == 0
    _subscribe(client, keys, "http://127.0.0.1:9/x", ["*"])
    with unit_of_work() as s:
        assert webhooks.fan_out(s) == 1  # webhook.created itself
        assert [d.event_type for d in s.query(WebhookDelivery)] == ["webhook.created"]


def test_workers_claiming_at_once_never_take_the_same_delivery(client, keys):
    """Two claimers side by side (on PostgreSQL: two connections, SKIP LOCKED) split the due
    deliveries between them; on SQLite the claims take turns."""
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(3):
        _subscribe(client, keys, "http://127.0.0.1:9/x", ["case.opened"])
    for _ in range(4):
        _open_case(client, keys)
    with unit_of_work() as s:
        webhooks.fan_out(s)

    def take(owner: str) -> list[str]:
        with unit_of_work() as s:
            return [j.delivery_id for j in webhooks.claim_due(s, owner=owner, limit=7, lease_seconds=60)]

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(take, ["one", "two"])
    assert len(first) + len(second) == 12
    assert not set(first) & set(second)
