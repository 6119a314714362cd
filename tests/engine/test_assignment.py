"""Queues hand out work: strategies, capacity, presence, urgency, and claims that race."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from engine.auth import service as auth
from engine.auth.service import Principal
from engine.cases import flows, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.db import unit_of_work
from engine.events.models import ActivityEvent
from engine.queues import service as queues
from engine.tasks.models import Task

QUEUE = "care"


@pytest.fixture(autouse=True)
def _database(db: str) -> None:
    """Every test here starts from empty tables with the shipped definitions."""


def _csr(
    name: str, *, capacity: int | None = None, skills: list[str] | None = None, away: bool = False
) -> None:
    with unit_of_work() as s:
        auth.create_key(s, name, "csr", queues=[QUEUE], skills=skills or [])
        auth.update_holder(s, name, actor="test", capacity=capacity, away=away)


def _strategy(strategy: str, skills: list[str] | None = None) -> None:
    with unit_of_work() as s:
        queues.put(s, QUEUE, strategy, skills or [], actor="test")


def _opening(priority: str = "normal", **overrides: Any) -> cases.Opening:
    fields: dict[str, Any] = {
        "priority": priority,
        "queue": QUEUE,
        "topic": "delivery",
        "title": "where is my order",
        "customer_id": None,
        "sla_policy": "default",
    }
    return cases.Opening(**(fields | overrides))


def _open_with_process(priority: str = "normal", **overrides: Any) -> str:
    """A case with its process started: its triage task is open."""
    with unit_of_work() as s:
        case = flows.open(
            s, _opening(priority, **overrides), process_key="reactive_case", seed={}, actor="test"
        )
        return case.id


def _holders() -> Counter[str]:
    with unit_of_work() as s:
        stmt = select(ActivityEvent.data).where(ActivityEvent.type == "case.assigned")
        return Counter(data["assignee"] for data in s.scalars(stmt))


def test_round_robin_shares_1000_cases_among_10_csrs_within_10_percent_of_their_capacity():
    capacities = {f"csr{i:02}": c for i, c in enumerate([2, 2, 3, 3, 4, 4, 5, 6, 7, 8])}
    for name, capacity in capacities.items():
        _csr(name, capacity=capacity)
    _strategy("round_robin")
    rng = random.Random(15)
    held: list[str] = []  # open case ids, oldest first
    with unit_of_work() as s:
        for _ in range(1000):
            case = cases.open_case(s, _opening(), actor="test")
            assert case.assignee is not None, "every case found room: the team is never saturated"
            held.append(case.id)
            # the team works cases in about the order they came: one of the three oldest resolves
            # once 30 of the 44 places are taken
            if len(held) >= 30:
                done = held.pop(rng.randrange(3))
                cases.transition(s, s.get(Case, done), transitions.RESOLVED, actor="test")
    got = _holders()
    total = sum(capacities.values())
    assert sum(got.values()) == 1000
    for name, capacity in capacities.items():
        fair = 1000 * capacity / total
        assert abs(got[name] - fair) <= 0.1 * fair, (name, got[name], round(fair, 1))


def test_round_robin_takes_turns_and_skips_the_away_the_full_and_the_unskilled():
    _csr("ann")
    _csr("bob", away=True)
    _csr("cat", capacity=1)
    _csr("dan", skills=["billing"])
    _csr("eve", skills=["billing"])
    _strategy("round_robin", skills=["billing"])  # ann and cat lack the skill
    with unit_of_work() as s:
        order = [cases.open_case(s, _opening(), actor="test").assignee for _ in range(5)]
    assert order == ["dan", "eve", "dan", "eve", "dan"]
    _strategy("round_robin")
    with unit_of_work() as s:
        order = [cases.open_case(s, _opening(), actor="test").assignee for _ in range(5)]
    # ann and cat join one turn behind dan (eve is there too): by name ann, cat, eve; then cat is
    # full (capacity 1) and bob still away, so ann and dan take the next turn
    assert order == ["ann", "cat", "eve", "ann", "dan"]


def test_least_loaded_gives_the_case_to_the_lowest_share_of_capacity():
    _csr("ann", capacity=2)
    _csr("bob", capacity=8)
    _strategy("least_loaded")
    with unit_of_work() as s:
        order = [cases.open_case(s, _opening(), actor="test").assignee for _ in range(10)]
    # (load + 1/2) / capacity: ann 0.25 then 0.75, bob 0.06, 0.19, 0.31, ... : 8 to 2 over ten
    assert Counter(order) == {"ann": 2, "bob": 8}
    assert order[:3] == ["bob", "bob", "ann"]


def test_a_manual_queue_or_nobody_eligible_leaves_the_case_unassigned():
    _csr("ann", capacity=0)
    with unit_of_work() as s:
        assert cases.open_case(s, _opening(), actor="test").assignee is None  # no settings: manual
    _strategy("least_loaded")
    with unit_of_work() as s:
        assert cases.open_case(s, _opening(), actor="test").assignee is None  # ann has no room
    assert _holders() == Counter()


def test_a_case_moved_to_a_queue_with_a_strategy_is_assigned_there():
    _csr("ann")
    _strategy("round_robin")
    with unit_of_work() as s:
        case = cases.open_case(s, _opening(queue="triage-desk"), actor="test")
        assert case.assignee is None
        cases.update_fields(s, case, {"queue": QUEUE}, actor="supervisor")
        assert case.assignee == "ann"
        events = s.scalars(select(ActivityEvent).where(ActivityEvent.case_id == case.id)).all()
    assigned = [e for e in events if e.type == "case.assigned"]
    assert [(e.actor, e.data["strategy"]) for e in assigned] == [("queue:care", "round_robin")]


def test_next_gives_the_most_urgent_task_first():
    _csr("ann")
    low = _open_with_process("low")
    normal = _open_with_process("normal")
    vip = _open_with_process("normal", influence=0.9, value_tier="platinum")  # 100 + 45 + 50
    urgent = _open_with_process("urgent")
    ann = Principal("ann", "csr")
    got = []
    for _ in range(4):
        with unit_of_work() as s:
            found = cases.claim_next(s, ann)
            assert found.task is not None
            got.append((found.task.case_id, found.urgency))
    assert [case_id for case_id, _ in got] == [urgent, vip, normal, low]
    urgent_u, vip_u, normal_u, low_u = (urgency for _, urgency in got)
    assert vip_u - normal_u == 45 + 50  # influence 0.9 and platinum, on the same priority and SLA
    # the default policy's first response is due within 1 h for urgent (+100), within 4 h for
    # normal (+50), later for low
    assert (urgent_u, normal_u, low_u) == (300 + 100, 100 + 50, 0)
    with unit_of_work() as s:
        assert cases.claim_next(s, ann).reason == "nothing"


def test_next_gives_nothing_to_the_away_the_full_and_outside_their_queues():
    _csr("ann", capacity=1)
    _csr("bob", away=True)
    with unit_of_work() as s:
        auth.create_key(s, "cy", "csr", queues=["elsewhere"])
    _open_with_process()
    _open_with_process()
    with unit_of_work() as s:
        assert cases.claim_next(s, Principal("bob", "csr")).reason == "away"
        assert cases.claim_next(s, Principal("cy", "csr")).reason == "nothing"
    with unit_of_work() as s:
        assert cases.claim_next(s, Principal("ann", "csr")).task is not None
    with unit_of_work() as s:
        assert cases.claim_next(s, Principal("ann", "csr")).reason == "at_capacity"


def test_a_queue_needing_a_skill_is_worked_only_by_those_who_have_it():
    _csr("ann")
    _csr("bob", skills=["billing"])
    _strategy("manual", skills=["billing"])
    _open_with_process()
    with unit_of_work() as s:
        assert cases.claim_next(s, Principal("ann", "csr")).reason == "no_queues"
    with unit_of_work() as s:
        assert cases.claim_next(s, Principal("bob", "csr")).task is not None


def _race(fn: Any, workers: int = 2) -> list[Any]:
    """Runs ``fn(i)`` in ``workers`` threads, each with its own connection, released at once."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as err:  # the loser's error is the result under test
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_csrs_racing_next_for_one_task_exactly_one_gets_it():
    _csr("ann")
    _csr("bob")
    people = [Principal("ann", "csr"), Principal("bob", "csr")]
    for _ in range(5):
        _open_with_process()

        def next_for(i: int) -> str | None:
            with unit_of_work() as s:
                task = cases.claim_next(s, people[i]).task
                return task.id if task else None

        results = _race(next_for)
        assert sum(r is not None for r in results) == 1, results


def test_two_csrs_draining_a_queue_with_next_never_get_the_same_task():
    _csr("ann")
    _csr("bob")
    opened = {_open_with_process() for _ in range(20)}
    people = [Principal("ann", "csr"), Principal("bob", "csr")]

    def drain_for(i: int) -> list[str]:
        got = []
        while True:
            with unit_of_work() as s:
                task = cases.claim_next(s, people[i]).task
                if task is None:
                    return got
                got.append(task.case_id)

    a, b = _race(drain_for)
    assert not set(a) & set(b)
    assert set(a) | set(b) == opened and len(a) + len(b) == 20
    with unit_of_work() as s:
        holders = dict(s.execute(select(Task.case_id, Task.assignee).where(Task.case_id.in_(opened))).all())
    assert all(holders[c] == "ann" for c in a) and all(holders[c] == "bob" for c in b)


def test_two_csrs_claiming_one_task_exactly_one_wins():
    _csr("ann")
    _csr("bob")
    people = [Principal("ann", "csr"), Principal("bob", "csr")]
    for _ in range(5):
        case_id = _open_with_process()

        def claim(i: int, case_id: str = case_id) -> str:
            with unit_of_work() as s:
                return cases.claim(s, case_id, people[i]).assignee or ""

        results = _race(claim)
        winners = [r for r in results if isinstance(r, str)]
        losers = [r for r in results if isinstance(r, cases.CaseHeld)]
        assert len(winners) == 1 and len(losers) == 1, results
        with unit_of_work() as s:
            assert s.get(Case, case_id).assignee == winners[0]


def test_a_claim_past_capacity_is_refused_and_a_supervisor_cannot_assign_past_it():
    _csr("ann", capacity=1)
    first, second = _open_with_process(), _open_with_process()
    ann = Principal("ann", "csr")
    with unit_of_work() as s:
        cases.claim(s, first, ann)
    with unit_of_work() as s, pytest.raises(cases.AtCapacity):
        cases.claim(s, second, ann)
    with unit_of_work() as s, pytest.raises(cases.AtCapacity):
        cases.assign(s, second, "ann", Principal("sup", "supervisor"))
    with unit_of_work() as s:
        cases.claim(s, first, ann)  # claiming what one holds already is no new work


def test_round_robin_takes_turns_among_the_cases_one_worker_batch_opens():
    """A worker batch opens its cases without a flush; each takes the next turn all the same
    (reading the queue's row afresh once discarded the batch's earlier turns: every case of a
    batch went to the same CSR)."""
    from engine.signals import service as signals
    from engine.worker.service import run_once

    for name in ("alice", "bob"):
        _csr(name, capacity=100)
    _strategy("round_robin")
    with unit_of_work() as s:
        signals.accept(
            s,
            [
                signals.NewSignal(
                    source="twitter",
                    external_id=f"batch-{n}",
                    text=f"@acme my order A1234{n} never arrived, 3 weeks now",
                    author={"handle": f"@batch{n}"},
                )
                for n in range(6)
            ],
        )
    assert run_once(limit=50) == 6
    with unit_of_work() as s:
        held = Counter(s.scalars(select(Case.assignee)))
    assert held == {"alice": 3, "bob": 3}
