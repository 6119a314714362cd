"""The NATS JetStream intake against the real server at 127.0.0.1:4222 (SIFT_TEST_NATS_URL).

Each test gets a stream, subject and consumer of its own, deleted afterwards. Outside CI the
tests are skipped when no server answers there; in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from engine.cases.models import Case
from engine.db import unit_of_work
from engine.signals import intake as broker
from engine.signals.models import Signal
from engine.worker import service as worker
from tests.helpers import auth, count, signal_body

NATS_URL = os.environ.get("SIFT_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_env(settings_env) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    if not _reachable(NATS_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the NATS intake tests: no NATS server answers at {NATS_URL}")
        pytest.skip(f"no NATS server (with JetStream) answers at {NATS_URL}; start nats-server -js")
    tag = f"{os.environ.get('SIFT_TEST_DB_PREFIX', 'sift_test')}_{uuid.uuid4().hex[:10]}"
    names = {
        "intake": "nats",
        "nats_url": NATS_URL,
        "nats_stream": tag.upper(),
        "nats_subject": f"sift.test.{tag}",
        "nats_consumer": f"workers-{tag}",
        "nats_ack_wait_seconds": "1",
    }
    settings_env(**names)
    yield names
    cleanup = broker.JetStreamIntake()
    try:
        cleanup.delete_stream()
    finally:
        cleanup.close()


@pytest.fixture
def intake(nats_env) -> Iterator[broker.JetStreamIntake]:  # type: ignore[no-untyped-def]
    connection = broker.JetStreamIntake()
    yield connection
    connection.close()


def _accept(n: int = 1) -> list[str]:
    from api.signals.schemas import SignalIn
    from engine.signals import service as signals

    with unit_of_work() as s:
        return [a.id for a in signals.accept(s, [SignalIn(**signal_body()).to_engine() for _ in range(n)])]


def _status(signal_id: str) -> str:
    with unit_of_work() as s:
        return s.get(Signal, signal_id).status


def test_the_api_publishes_accepted_signals_and_a_worker_round_handles_and_acks_them(
    db, keys, nats_env, intake
):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(run_worker=False)) as client:
        one = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
        batch = client.post(
            "/api/v1/signals:batch",
            json={"signals": [signal_body(), signal_body()]},
            headers=auth(keys["integration"]),
        )
        again = client.post(  # a repeat of the same key is not published again
            "/api/v1/signals",
            json={**signal_body(), "external_id": "t-same"},
            headers=auth(keys["integration"]),
        )
        client.post(
            "/api/v1/signals",
            json={**signal_body(), "external_id": "t-same"},
            headers=auth(keys["integration"]),
        )
        ready = client.get("/readyz").json()
    assert one.status_code == 202 and batch.status_code == 202 and again.status_code == 202
    assert ready["checks"]["intake"] == "connected"
    assert intake.pending() == 4
    ids = [one.json()["id"], *(r["id"] for r in batch.json()["results"]), again.json()["id"]]
    assert worker.intake_round(intake, 50, 2.0) == 4
    assert [_status(i) for i in ids] == ["processed"] * 4
    assert count(Case) == 4
    assert intake.pending() == 0  # acked: a work queue keeps nothing


def test_a_repeated_publish_of_one_signal_id_is_stored_once(db, intake):
    (sid,) = _accept()
    assert intake.publish([sid]) == 1
    assert intake.publish([sid]) == 1  # JetStream recognises the Nats-Msg-Id and keeps one message
    assert intake.pending() == 1


def test_a_message_whose_signal_was_handled_already_is_acked_and_skipped(db, intake):
    (sid,) = _accept()
    assert worker.run_once() == 1  # handled from the inbox table (the sweep, say) before its message came
    assert count(Case) == 1
    intake.publish([sid])
    assert worker.intake_round(intake, 50, 2.0) == 1
    assert count(Case) == 1
    assert intake.pending() == 0


def test_a_worker_that_dies_before_its_ack_has_the_message_delivered_again(db, intake, monkeypatch):
    (sid,) = _accept()
    intake.publish([sid])
    real = worker.run_once

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # the process dies inside the batch: nothing commits, nothing is acked

    monkeypatch.setattr(worker, "run_once", killed)
    with pytest.raises(KeyboardInterrupt):
        worker.intake_round(intake, 50, 2.0)
    monkeypatch.setattr(worker, "run_once", real)
    assert _status(sid) == "pending" and count(Case) == 0
    deadline = time.monotonic() + 10
    deliveries: list[broker.Delivery] = []
    while not deliveries and time.monotonic() < deadline:  # after the 1 s ack wait
        deliveries = intake.fetch(50, 1.0)
    assert [(d.signal_id, d.delivered) for d in deliveries] == [(sid, 2)]
    worker.run_once(ids=[d.signal_id for d in deliveries])
    intake.ack(deliveries)
    assert _status(sid) == "processed" and count(Case) == 1
    assert intake.pending() == 0


def test_the_sweep_takes_a_signal_whose_publish_never_happened(db, intake):
    (sid,) = _accept()  # committed, then the API died before publishing
    assert worker.intake_round(intake, 50, 0.2) == 0
    assert worker.sweep(grace_seconds=60) == 0  # too fresh: the broker path goes first
    assert _status(sid) == "pending"
    assert worker.sweep(grace_seconds=0) == 1
    assert _status(sid) == "processed" and count(Case) == 1


def test_a_worker_process_runs_from_the_intake(db, intake):
    ids = _accept(3)
    intake.publish(ids)
    w = worker.Worker(poll_seconds=0.2)
    w.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_status(i) != "processed" for i in ids):
            time.sleep(0.1)
    finally:
        w.stop()
    assert [_status(i) for i in ids] == ["processed"] * 3
    assert intake.pending() == 0
