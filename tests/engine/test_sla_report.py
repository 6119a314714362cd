"""The SLA report's figures, checked exactly against values worked out by hand (on both backends).

Three sets of 100 cases, opened in the week of Monday 2026-11-02, judged as of 2026-11-20:

A. queue care, policy default (24x7), priority high, j = 1..100, opened 2026-11-02 00:00 + (j-1) min.
   Reply after j min, due after 50 min: j > 50 late, each with a first_response breach event.
   Even j resolved after j h (due 100 h; 95 h for j >= 92, so 96, 98, 100 are late, each with
   a resolution breach event); odd j open, resolution due after the as-of time. j <= 50
   assigned to alice. Odd j 1..9 are at risk now. j = 2 met both stored due times but has a
   resolution breach event (its due time moved after the breach): the event alone breaches it.
B. queue billing, policy office (Mon-Fri 09-17 UTC), priority normal, k = 1..100, all opened
   Friday 2026-11-06 16:00. Reply after k h; due Monday 12:00 (4 working hours, k = 68):
   k > 68 late with an event. Resolution due after the as-of time. Assigned to bob.
C. queue social, policy gone (no such policy), priority urgent, m = 1..100, opened
   2026-11-03 00:00 + m min, never replied to.
   m 1..40 open, first response due after the as-of time: pending. m 1..10 of them waiting with
   the clock paused and their first response due in the past (a paused clock does not come due).
   m 41..60 open, first response overdue: breached; 51..60 with an event and state breached.
   m 61..100 resolved (without a reply) after m min, first response due after 80 min: the
   first-response clock stopped at the resolution, so 81..100 are late (no event).

Two cases just outside the window (one second before it, one at its end) must change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.cases import report as reports
from engine.cases.models import Case
from engine.events.models import ActivityEvent
from engine.sla import calendars, policies

START = datetime(2026, 11, 2, tzinfo=UTC)
END = datetime(2026, 11, 9, tzinfo=UTC)
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
LATER = AS_OF + timedelta(days=10)
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)
TARGETS = {"first_response": "PT4H", "next_response": "PT8H", "resolution": "P5D"}


def _case(session, n: int, **fields) -> Case:
    fields.setdefault("status", "resolved" if fields.get("resolved_at") else "open")
    case = Case(id=f"case{n:04d}", title="t", updated_at=fields["created_at"], **fields)
    session.add(case)
    return case


def _breach(session, case: Case, target: str) -> None:
    session.add(ActivityEvent(case_id=case.id, at=AS_OF, type="sla.breached", data={"target": target}))


def _set_a(session) -> None:
    for j in range(1, 101):
        opened = START + (j - 1) * MIN
        resolved = j % 2 == 0
        due = opened + (95 if j >= 92 else 100) * HOUR if resolved else LATER
        state = ("breached" if j in (96, 98, 100) else "met") if resolved else "on_track"
        case = _case(
            session, j, queue="care", sla_policy="default", priority="high",
            assignee="alice" if j <= 50 else None, created_at=opened,
            first_response_at=opened + j * MIN, first_response_due_at=opened + 50 * MIN,
            resolved_at=opened + j * HOUR if resolved else None, resolution_due_at=due,
            sla_state="at_risk" if j in (1, 3, 5, 7, 9) else state,
        )  # fmt: skip
        if j > 50:
            _breach(session, case, "first_response")
        if j in (2, 96, 98, 100):
            _breach(session, case, "resolution")


def _set_b(session) -> None:
    opened = datetime(2026, 11, 6, 16, tzinfo=UTC)
    for k in range(1, 101):
        case = _case(
            session, 100 + k, queue="billing", sla_policy="office", priority="normal", assignee="bob",
            created_at=opened, first_response_at=opened + k * HOUR,
            first_response_due_at=datetime(2026, 11, 9, 12, tzinfo=UTC), resolution_due_at=LATER,
        )  # fmt: skip
        if k > 68:
            _breach(session, case, "first_response")


def _set_c(session) -> None:
    for m in range(1, 101):
        opened = datetime(2026, 11, 3, tzinfo=UTC) + m * MIN
        fields = {"first_response_due_at": LATER, "resolution_due_at": LATER}
        if m <= 10:
            fields = {"status": "waiting", "sla_paused": True, "first_response_due_at": opened + HOUR}
        elif 41 <= m <= 60:
            fields["first_response_due_at"] = opened + HOUR
            fields["sla_state"] = "breached" if m > 50 else "on_track"
        elif m > 60:
            fields = {"resolved_at": opened + m * MIN, "first_response_due_at": opened + 80 * MIN}
            fields |= {"resolution_due_at": opened + 24 * HOUR, "sla_state": "met"}
        case = _case(
            session,
            200 + m,
            queue="social",
            sla_policy="gone",
            priority="urgent",
            created_at=opened,
            **fields,
        )
        if 51 <= m <= 60:
            _breach(session, case, "first_response")


def _outside(session) -> None:
    for n, opened in ((901, START - timedelta(seconds=1)), (902, END)):
        case = _case(
            session, n, queue="care", sla_policy="default", created_at=opened,
            first_response_at=opened + HOUR, first_response_due_at=opened + MIN,
            resolved_at=opened + 2 * HOUR, resolution_due_at=opened + MIN, sla_state="breached",
        )  # fmt: skip
        _breach(session, case, "first_response")
        _breach(session, case, "resolution")


@pytest.fixture
def seeded(session):
    office = {"time_zone": "UTC", "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}
    calendars.put(session, "office-utc", office, actor="test")
    targets = {p: TARGETS for p in policies.PRIORITIES}
    policies.put(
        session, "office", {"calendar": "office-utc", "targets": targets, "warning_at": 0.75}, actor="test"
    )
    for seed in (_set_a, _set_b, _set_c, _outside):
        seed(session)
    session.flush()
    return session


def _run(session, group_by: str) -> reports.Report:
    return reports.report(session, reports.Window(START, END, group_by), as_of=AS_OF)


def _flat(f: reports.Figures) -> dict:
    def times(d: reports.Durations) -> tuple:
        return (d.wall.count, d.wall.p50, d.wall.p90, d.working.count, d.working.p50, d.working.p90)

    return {
        "cases": f.cases, "resolved": f.resolved, "met": f.met, "breached": f.breached, "pending": f.pending,
        "breaches": f.breaches, "now": (f.at_risk_now, f.breached_now, f.paused_now),
        "first_response": times(f.first_response), "resolution": times(f.resolution),
    }  # fmt: skip


# set A: replies 60j s (p50 rank 50, p90 rank 90); resolutions 3600j s for the 50 even j
# (p50 rank 25 -> j 50, p90 rank 45 -> j 90); 24x7, so working = wall
CARE = {
    "cases": 100, "resolved": 50, "met": 49, "breached": 51, "pending": 0,
    "breaches": {"first_response": 50, "resolution": 4}, "now": (5, 3, 0),
    "first_response": (100, 3000.0, 5400.0, 100, 3000.0, 5400.0),
    "resolution": (50, 180000.0, 324000.0, 50, 180000.0, 324000.0),
}  # fmt: skip
# set B: replies after k h (rank 50 -> 50 h, rank 90 -> 90 h). In working time from Friday 16:00:
# k = 50 ends Sunday 18:00 (1 h: Friday 16-17), k = 90 ends Tuesday 10:00 (1 + 8 + 1 = 10 h)
BILLING = {
    "cases": 100, "resolved": 0, "met": 68, "breached": 32, "pending": 0,
    "breaches": {"first_response": 32, "resolution": 0}, "now": (0, 0, 0),
    "first_response": (100, 180000.0, 324000.0, 100, 3600.0, 36000.0),
    "resolution": (0, None, None, 0, None, None),
}  # fmt: skip
# set C: met m 61..80, breached m 41..60 and 81..100, pending m 1..40; resolutions 60m s for
# m 61..100 (p50 rank 20 -> m 80, p90 rank 36 -> m 96); its policy is gone: no working figures
SOCIAL = {
    "cases": 100, "resolved": 40, "met": 20, "breached": 40, "pending": 40,
    "breaches": {"first_response": 10, "resolution": 0}, "now": (0, 10, 10),
    "first_response": (0, None, None, 0, None, None),
    "resolution": (40, 4800.0, 5760.0, 0, None, None),
}  # fmt: skip
# All 200 replies: A's 60j s and B's 3600k s. Rank 100 is A's j = 99 (5940 s; 3600 s is there
# twice), rank 180 is B's k = 80. Working: A's 60j, B's hours 1 (k 1..65), 2..9 (66..73), 9 (74..89):
# 3600 s holds ranks 60..125, and rank 180 is B's k = 80 (9 h). All 90 resolutions: C's 40 come
# first, so rank 45 is A's 5th (j = 10) and rank 81 A's 41st (j = 82); working: A's alone.
TOTAL = {
    "cases": 300, "resolved": 90, "met": 137, "breached": 123, "pending": 40,
    "breaches": {"first_response": 92, "resolution": 4}, "now": (5, 13, 10),
    "first_response": (200, 5940.0, 288000.0, 200, 3600.0, 32400.0),
    "resolution": (90, 36000.0, 295200.0, 50, 180000.0, 324000.0),
}  # fmt: skip


def test_figures_per_queue_and_in_total_are_the_hand_computed_ones(seeded):
    result = _run(seeded, "queue")
    groups = {g.key: _flat(g.figures) for g in result.groups}
    assert [g.key for g in result.groups] == ["billing", "care", "social"]
    assert groups["care"] == CARE
    assert groups["billing"] == BILLING
    assert groups["social"] == SOCIAL
    assert _flat(result.total) == TOTAL
    assert result.total.compliance == 137 / 260
    assert {g.key: g.figures.compliance for g in result.groups} == {
        "care": 0.49,
        "billing": 0.68,
        "social": 1 / 3,
    }


def test_every_grouping_splits_the_same_total(seeded):
    expected = {
        "policy": [("default", "default", 100), ("gone", "gone", 100), ("office", "office", 100)],
        "priority": [("urgent", "urgent", 100), ("high", "high", 100), ("normal", "normal", 100)],
        "assignee": [("alice", "alice", 50), ("bob", "bob", 100), (None, "(unassigned)", 150)],
    }
    for group_by, groups in expected.items():
        result = _run(seeded, group_by)
        assert [(g.key, g.label, g.figures.cases) for g in result.groups] == groups, group_by
        assert _flat(result.total) == TOTAL, group_by
    by_policy = {g.key: _flat(g.figures) for g in _run(seeded, "policy").groups}
    assert (by_policy["default"], by_policy["office"], by_policy["gone"]) == (CARE, BILLING, SOCIAL)


def test_unassigned_group_holds_the_unassigned_cases_figures(seeded):
    unassigned = _run(seeded, "assignee").groups[-1].figures
    # A's j 51..100 (all late) and all of C
    assert (unassigned.met, unassigned.breached, unassigned.pending) == (20, 90, 40)
    assert unassigned.breaches == {"first_response": 60, "resolution": 3}


def test_an_empty_window_has_no_groups_and_empty_figures(seeded):
    result = reports.report(
        seeded, reports.Window(END + timedelta(days=1), END + timedelta(days=2), "queue"), as_of=AS_OF
    )
    assert result.groups == []
    assert result.total.cases == 0 and result.total.compliance is None
    assert result.total.first_response.wall == reports.Percentiles(0, None, None)


def test_nearest_rank():
    ten = [float(v) for v in range(1, 11)]
    assert [reports.nearest_rank(ten, p) for p in (50, 90, 91, 100, 1)] == [5, 9, 10, 10, 1]
    assert reports.nearest_rank([7.0], 90) == 7 and reports.nearest_rank([], 50) is None
    assert reports.percentiles([3.0, 1.0, 2.0]) == reports.Percentiles(3, 2.0, 3.0)
