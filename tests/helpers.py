"""Small helpers for tests: headers, a signal body, draining the worker."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
_ids = itertools.count(1)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def signal_body(**overrides: Any) -> dict[str, Any]:
    n = next(_ids)
    body: dict[str, Any] = {
        "source": "twitter",
        "external_id": f"t-{n}",
        "text": "@acme my order A12345 never arrived, 3 weeks now 😡",
        # an author of its own: the same author's same text within an hour is a duplicate, and
        # their next mention on the topic joins their open case
        "author": {"handle": f"@jane{n}", "name": "Jane", "followers": 1200, "verified": False},
        "created_at": "2026-11-22T10:00:00Z",
    }
    body.update(overrides)
    return body


def drain() -> int:
    """Runs the worker until no signal is due; returns how many it claimed."""
    from engine.worker.service import run_once

    total = 0
    while claimed := run_once():
        total += claimed
    return total


def count(model: Any) -> int:
    from sqlalchemy import func, select

    from engine.db import unit_of_work

    with unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def put_default_policy(targets: dict[str, Any], warning_at: float = 0.5) -> None:
    """The default SLA policy with the same ``targets`` for every priority, on the 24x7 calendar."""
    from engine.db import unit_of_work
    from engine.sla import policies

    body = {
        "calendar": "24x7",
        "targets": dict.fromkeys(policies.PRIORITIES, targets),
        "warning_at": warning_at,
    }
    with unit_of_work() as s:
        policies.put(s, "default", body, actor="test")


def detached_case(case_id: str) -> Any:
    """The case as stored now, detached from its session."""
    from engine.cases.models import Case
    from engine.db import unit_of_work

    with unit_of_work() as s:
        case = s.get(Case, case_id)
        s.expunge(case)
        return case


def deliver(until: Any = None, *, seconds: float = 10.0) -> int:
    """Runs delivery rounds (fan-out, webhooks, replies) until ``until()`` holds, or, without it,
    until a round finds nothing to do; returns the rounds run. Fails past ``seconds``."""
    import time

    from engine.delivery.service import run_once

    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        done = run_once(owner="test")
        rounds += 1
        if until is not None and until():
            return rounds
        if until is None and not any(done.values()):
            return rounds
        time.sleep(0.02)
    raise AssertionError(f"delivery did not settle within {seconds} s ({rounds} rounds)")


def spike_investigation(topic: str = "delivery") -> str:
    """The id of the investigation a spike on ``topic`` opens, as detection records the spike."""
    from datetime import timedelta

    from engine.db import unit_of_work, utcnow
    from engine.trends import investigations
    from engine.trends.models import Trend

    at = utcnow().replace(second=0, microsecond=0)
    with unit_of_work() as s:
        trend = Trend(
            series=f"topic:{topic}",
            kind="topic",
            key=topic,
            topic=topic,
            detected_at=at,
            window_start=at - timedelta(minutes=5),
            volume=60,
            baseline=20.0,
            score=7.0,
            negative_share=0.9,
            reach=0.4,
            severity=7,
        )
        s.add(trend)
        s.flush()
        case, opened = investigations.on_spike(s, trend)
        assert opened
        return case.id


def without_triage(xml: bytes) -> bytes:
    """reactive_case with its triage task taken out (the flow goes straight to the decision)."""
    start = xml.index(b'<bpmn:userTask id="triage"')
    xml = xml[:start] + xml[xml.index(b"</bpmn:userTask>", start) + len(b"</bpmn:userTask>") :]
    start = xml.index(b'<bpmn:sequenceFlow id="flow_to_decision"')
    xml = xml[:start] + xml[xml.index(b"/>", start) + 2 :]
    for element in (b"triage_di", b"flow_to_decision_di"):
        start = xml.index(b'id="' + element + b'"')
        start = xml.rindex(b"<", 0, start)
        tag = b"</bpmndi:BPMNShape>" if element == b"triage_di" else b"</bpmndi:BPMNEdge>"
        xml = xml[:start] + xml[xml.index(tag, start) + len(tag) :]
    xml = xml.replace(b'targetRef="triage"', b'targetRef="triage_decision"')
    return xml.replace(
        b"<bpmn:incoming>flow_to_decision</bpmn:incoming>", b"<bpmn:incoming>flow_to_triage</bpmn:incoming>"
    )
