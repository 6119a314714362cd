"""Outbound replies: completing respond queues the reply; the HTTP channel adapter sends it to a
real server on 127.0.0.1 after the commit, failures are retried with backoff, and without an
endpoint the reply stays queued and says why."""

from __future__ import annotations

from engine.delivery import replies
from engine.delivery.http import Sent
from tests.delivery.receiver import receiver
from tests.helpers import auth, deliver, detached_case, drain, signal_body


def _respond(client, keys, text="Sorry! Refund sent.") -> tuple[str, str]:
    """Opens a case from a tweet and completes triage and respond; returns (case id, external id)."""
    body = signal_body()
    r = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
    drain()
    case_id = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()["case_id"]
    csr = auth(keys["csr"])
    client.post(f"/api/v1/cases/{case_id}/claim", headers=csr)
    for data in ({"action": "respond"}, {"reply": text}):
        task = client.get(f"/api/v1/cases/{case_id}", headers=csr).json()["tasks"][0]
        done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=csr)
        assert done.status_code == 200, done.text
    return case_id, body["external_id"]


def _timeline(client, keys, case_id):
    return client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]


def _replies(client, keys, **params):
    return client.get("/api/v1/replies", params=params, headers=auth(keys["csr"])).json()["items"]


def test_without_an_endpoint_the_reply_stays_queued_and_says_why(client, keys, settings_env):
    case_id, external_id = _respond(client, keys)
    deliver()
    (reply,) = _replies(client, keys, case_id=case_id)
    assert reply["status"] == "queued" and reply["attempts"] == 0
    assert "SIFT_REPLY_ENDPOINT" in reply["held_reason"]
    assert reply["channel"] == "twitter" and reply["in_reply_to"] == external_id
    types = [e["type"] for e in _timeline(client, keys, case_id)]
    assert "reply.queued" in types and "reply.sent" not in types
    queued = next(e for e in _timeline(client, keys, case_id) if e["type"] == "reply.queued")
    assert "SIFT_REPLY_ENDPOINT" in queued["data"]["held"]
    # the team replied: the first-response clock stopped when the reply was queued
    assert detached_case(case_id).first_response_at is not None


def test_the_reply_is_posted_to_the_endpoint_retried_after_failures_then_sent(client, keys, settings_env):
    with receiver(statuses=[503, 500], answer={"external_id": "tw-999"}) as rx:
        settings_env(reply_endpoint=rx.url, reply_retry_base_seconds=0.05)
        case_id, external_id = _respond(client, keys, "We have refunded you.")
        assert rx.requests == []  # nothing leaves before the delivery service runs, after commit
        deliver(lambda: _replies(client, keys, case_id=case_id)[0]["status"] == "sent")
        assert [r.status for r in rx.requests] == [503, 500, 200]
        sent = rx.requests[-1].json()
        assert sent["channel"] == "twitter" and sent["in_reply_to"] == external_id
        assert sent["text"] == "We have refunded you." and sent["case_id"] == case_id
        assert rx.requests[-1].headers["sift-reply-id"] == sent["id"]
    (reply,) = _replies(client, keys, case_id=case_id)
    assert reply["attempts"] == 3 and reply["external_id"] == "tw-999" and reply["sent_at"]
    line = [e for e in _timeline(client, keys, case_id) if e["type"].startswith("reply.")]
    assert [e["type"] for e in line] == ["reply.queued", "reply.failed", "reply.failed", "reply.sent"]
    assert [e["data"].get("error") for e in line[1:3]] == ["HTTP 503", "HTTP 500"]
    assert all(e["data"]["final"] is False and e["data"]["next_attempt_at"] for e in line[1:3])


def test_a_reply_that_fails_every_attempt_is_failed_and_a_supervisor_can_retry_it(client, keys, settings_env):
    settings_env(reply_endpoint="http://127.0.0.1:9/nothing-listens", reply_max_attempts=2)
    case_id, _ = _respond(client, keys)
    deliver(lambda: _replies(client, keys, case_id=case_id)[0]["status"] == "failed")
    (reply,) = _replies(client, keys, status="failed")
    assert reply["attempts"] == 2 and "could not connect" in reply["last_error"]
    final = [e for e in _timeline(client, keys, case_id) if e["type"] == "reply.failed"][-1]
    assert final["data"]["final"] is True and final["data"]["next_attempt_at"] is None
    assert client.post(f"/api/v1/replies/{reply['id']}:retry", headers=auth(keys["csr"])).status_code == 403
    with receiver() as rx:
        settings_env(reply_endpoint=rx.url)
        again = client.post(f"/api/v1/replies/{reply['id']}:retry", headers=auth(keys["supervisor"]))
        assert again.status_code == 200 and again.json()["status"] == "queued"
        twice = client.post(f"/api/v1/replies/{reply['id']}:retry", headers=auth(keys["supervisor"]))
        assert twice.status_code == 409
        deliver(lambda: _replies(client, keys, case_id=case_id)[0]["status"] == "sent")
        assert len(rx.requests) == 1


def test_a_channel_adapter_registered_for_a_channel_sends_its_replies(client, keys, settings_env):
    got = []

    class Recorder:
        def send(self, reply: replies.Outgoing) -> Sent:
            got.append(reply)
            return Sent(True, None, None, 0.0, {"external_id": "x-1"})

    replies.register("twitter", Recorder())
    try:
        case_id, external_id = _respond(client, keys)
        (queued,) = _replies(client, keys, case_id=case_id)
        assert queued["held_reason"] is None
        deliver()
    finally:
        replies.unregister("twitter")
    assert [(r.case_id, r.in_reply_to) for r in got] == [(case_id, external_id)]
    assert _replies(client, keys, case_id=case_id)[0]["status"] == "sent"
