"""The worker: nothing lost, nothing done twice."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from engine.cases.models import Case
from engine.config import get_settings
from engine.db import unit_of_work
from engine.signals import service as signals
from engine.signals.models import Signal
from engine.tasks.models import Task
from engine.worker import pipeline
from engine.worker.service import run_once
from tests.helpers import count, drain, signal_body


def _accept(n: int = 1, **overrides) -> list[str]:
    from api.signals.schemas import SignalIn

    bodies = [signal_body(**overrides) for _ in range(n)]
    with unit_of_work() as s:
        return [a.id for a in signals.accept(s, [SignalIn(**b).to_engine() for b in bodies])]


def _make_due(signal_id: str) -> None:
    from engine.db import utcnow

    with unit_of_work() as s:
        signal = s.get(Signal, signal_id)
        if signal.status == "pending":
            signal.next_attempt_at = utcnow()


def _crash_after_case_insert(monkeypatch, error: BaseException, times: int) -> None:
    real_open = pipeline.open_case
    calls = {"n": 0}

    def crash_after_insert(session, signal, decision, context):
        case = real_open(session, signal, decision, context)
        calls["n"] += 1
        if calls["n"] <= times:
            session.flush()  # the case row is really written before the crash
            raise error
        return case

    monkeypatch.setattr(pipeline, "open_case", crash_after_insert)


def test_a_worker_killed_after_the_case_insert_leaves_exactly_one_case_after_retry(db, monkeypatch):
    (sid,) = _accept()
    _crash_after_case_insert(monkeypatch, KeyboardInterrupt(), times=1)  # the process dies mid-batch
    with pytest.raises(KeyboardInterrupt):
        run_once()
    assert count(Case) == 0 and count(Task) == 0
    with unit_of_work() as s:
        assert s.get(Signal, sid).status == "pending"
    drain()
    assert count(Case) == 1 and count(Task) == 1
    with unit_of_work() as s:
        sig = s.get(Signal, sid)
        assert sig.status == "processed" and sig.case_id == s.scalar(select(Case.id))


def test_an_error_after_the_case_insert_is_an_attempt_and_the_retry_makes_one_case(db, monkeypatch):
    (sid,) = _accept()
    _crash_after_case_insert(monkeypatch, RuntimeError("boom"), times=2)  # fast path and its redo
    assert run_once() == 1
    with unit_of_work() as s:
        sig = s.get(Signal, sid)
        assert sig.status == "pending" and sig.attempts == 1
        assert sig.error == "RuntimeError: internal error"
    assert count(Case) == 0 and count(Task) == 0
    _make_due(sid)
    drain()
    assert count(Case) == 1 and count(Task) == 1
    with unit_of_work() as s:
        assert s.get(Signal, sid).status == "processed"


def test_a_constraint_race_at_the_batch_flush_redoes_the_batch_one_by_one(db, monkeypatch):
    from engine.auth.models import ApiKey

    ids = _accept(3)
    real = pipeline.handle

    def handle(session, signal, enrichment):
        real(session, signal, enrichment)
        if signal.id == ids[1]:  # a row that clashes only when written
            session.add(ApiKey(name="clash", role="csr", key_hash="x" * 64))
            session.add(ApiKey(name="clash", role="csr", key_hash="y" * 64))

    monkeypatch.setattr(pipeline, "handle", handle)
    assert run_once() == 3
    assert count(Case) == 2
    with unit_of_work() as s:
        statuses = {sid: (s.get(Signal, sid).status, s.get(Signal, sid).attempts) for sid in ids}
    assert statuses[ids[0]] == ("processed", 0) and statuses[ids[2]] == ("processed", 0)
    assert statuses[ids[1]] == ("pending", 1)


def test_one_bad_signal_does_not_sink_its_batch_and_fails_after_max_attempts(db, monkeypatch):
    ids = _accept(3)
    poisoned = ids[1]
    real = pipeline.handle

    def handle(session, signal, enrichment):
        if signal.id == poisoned:
            raise ValueError("boom")
        return real(session, signal, enrichment)

    monkeypatch.setattr(pipeline, "handle", handle)
    run_once()
    assert count(Case) == 2
    for _ in range(get_settings().signal_max_attempts - 1):
        _make_due(poisoned)
        run_once()
    with unit_of_work() as s:
        sig = s.get(Signal, poisoned)
        assert sig.status == "failed"
        assert sig.attempts == get_settings().signal_max_attempts
        assert "ValueError" in sig.error
    _make_due(poisoned)
    assert run_once() == 0  # a failed signal is not retried on its own


def test_retries_back_off(db, monkeypatch):
    (sid,) = _accept()
    monkeypatch.setattr(pipeline, "handle", lambda *a: (_ for _ in ()).throw(RuntimeError("x")))
    run_once()
    assert run_once() == 0  # not due yet
    with unit_of_work() as s:
        sig = s.get(Signal, sid)
        assert sig.next_attempt_at > sig.received_at


def test_in_process_worker_turns_posts_into_cases(db, keys):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.helpers import auth

    with TestClient(create_app(run_worker=True)) as client:
        r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
        sid = r.json()["id"]
        deadline = time.monotonic() + 20
        status = "pending"
        while time.monotonic() < deadline and status == "pending":
            time.sleep(0.05)
            status = client.get(f"/api/v1/signals/{sid}", headers=auth(keys["csr"])).json()["status"]
    assert status == "processed"


@pytest.mark.parametrize("text,status", [("FREE followers!!! click bit.ly/xx @acme @acme", "ignored")])
def test_spam_is_ignored_without_a_case(db, text, status):
    from api.signals.schemas import SignalIn

    with unit_of_work() as s:
        (a,) = signals.accept(s, [SignalIn(**signal_body(text=text)).to_engine()])
    drain()
    with unit_of_work() as s:
        sig = s.get(Signal, a.id)
        assert sig.status == status and sig.case_id is None


def test_several_workers_share_one_inbox_and_each_signal_is_done_once(db):
    import threading

    # one author (so workers race to create the same customer), a different text each (no duplicates)
    from api.signals.schemas import SignalIn

    bodies = [
        signal_body(author={"handle": "@jane"}, text=f"@acme my order A{10000 + n} never arrived 😡")
        for n in range(120)
    ]
    with unit_of_work() as s:
        ids = [a.id for a in signals.accept(s, [SignalIn(**b).to_engine() for b in bodies])]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while run_once(10):
                pass
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    # two workers may race to create the same new customer: the loser's signals are
    # retried (an attempt each), never lost or doubled
    for sid in ids:
        _make_due(sid)
    drain()
    from engine.customers.models import Customer

    assert count(Customer) == 1
    with unit_of_work() as s:
        rows = s.execute(select(Signal.status, Signal.case_id).where(Signal.id.in_(ids))).all()
    assert {status for status, _ in rows} == {"processed"}
    # the same customer on the same topic: later mentions join the open case (a worker racing
    # another may open a second one before it sees the first), never a case per mention
    case_ids = {case_id for _, case_id in rows}
    assert None not in case_ids and count(Case) == len(case_ids) < 120
