"""GET /api/v1/sla/report as a supervisor sees it: the default window, the shape, bad parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.cases.models import Case
from engine.db import unit_of_work, utcnow
from tests.helpers import auth, drain, signal_body

URL = "/api/v1/sla/report"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_default_window_is_the_last_seven_days_and_holds_new_cases(client, keys):
    signals = [signal_body(author={"handle": f"@u{i}", "followers": 10}) for i in range(2)]
    client.post("/api/v1/signals:batch", json={"signals": signals}, headers=auth(keys["integration"]))
    drain()
    r = client.get(URL, headers=auth(keys["supervisor"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert _instant(body["to"]) - _instant(body["from"]) == timedelta(days=7)
    assert _instant(body["as_of"]) == _instant(body["to"])
    assert body["group_by"] == "policy"
    assert [(g["key"], g["label"], g["cases"]) for g in body["groups"]] == [("default", "default", 2)]
    total = body["total"]
    assert total["cases"] == 2 and total["resolved"] == 0
    # nothing has come due yet: both cases are pending, so there is no share to give
    assert total["compliance"] == {"share": None, "met": 0, "breached": 0, "pending": 2}
    assert total["first_response"] == {
        "wall_seconds": {"count": 0, "p50": None, "p90": None},
        "working_seconds": {"count": 0, "p50": None, "p90": None},
    }
    assert total["breaches"] == {"first_response": 0, "resolution": 0}
    assert total["now"] == {"at_risk": 0, "breached": 0, "paused": 0}


def test_an_explicit_window_is_answered_in_utc_and_unassigned_is_its_own_group(client, keys):
    client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    now = utcnow()
    start = (now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    params = {"from": start.isoformat(), "to": (now + timedelta(hours=1)).isoformat(), "group_by": "assignee"}
    body = client.get(URL, params=params, headers=auth(keys["admin"])).json()
    assert _instant(body["from"]) == start and _instant(body["from"]).utcoffset() == timedelta(0)
    assert [(g["key"], g["label"]) for g in body["groups"]] == [(None, "(unassigned)")]
    before = {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00+00:00"}
    assert client.get(URL, params=before, headers=auth(keys["supervisor"])).json()["total"]["cases"] == 0


def _future(days: int) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2026-11-01T00:00:00"}, ["from"]),  # no zone
        ({"from": "last week"}, ["from"]),
        ({"from": "2026-11-01T00:00:00 01:00"}, ["from"]),  # a + sent unencoded arrives as a space
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, ["to"]),
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, ["to"]),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}, ["to"]),  # 367 days
        ({"from": "0001-01-01T00:00:00Z"}, ["from"]),
        ({"to": "0001-01-08T00:00:00+00:00"}, ["to"]),  # seven days before it would not exist
        ({"group_by": "colour"}, ["group_by"]),
        ({"from": "soon", "to": "later", "group_by": "x"}, ["from", "to", "group_by"]),
    ],
)
def test_bad_parameters_are_a_422_naming_each_field(client, keys, params, fields):
    r = client.get(URL, params=params, headers=auth(keys["supervisor"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "InvalidInput"
    assert [f["field"] for f in r.json()["fields"]] == fields


def test_a_from_after_now_names_from_when_to_is_left_to_default(client, keys):
    r = client.get(URL, params={"from": _future(1)}, headers=auth(keys["supervisor"]))
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"] == "from" and "defaults to now" in r.json()["fields"][0]["message"]


def test_a_span_of_exactly_366_days_is_allowed(client, keys):
    params = {"from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}  # 2024 is a leap year
    assert client.get(URL, params=params, headers=auth(keys["supervisor"])).status_code == 200


def test_the_current_counts_agree_with_the_case_list_filters(client, keys):
    """at_risk, breached and paused mean what ``GET /cases?sla=…`` means, case for case."""
    opened = utcnow() - timedelta(hours=2)
    rows = [
        ("open", "at_risk", False),
        ("open", "at_risk", True),  # paused wins over at risk while the case runs
        ("waiting", "on_track", True),
        ("resolved", "breached", False),
        ("resolved", "met", True),  # a stale pause flag on a resolved case is not paused
        ("open", "breached", False),
        ("open", "on_track", False),
    ]
    with unit_of_work() as s:
        for n, (status, state, paused) in enumerate(rows):
            resolved_at = opened + timedelta(hours=1) if status == "resolved" else None
            s.add(
                Case(
                    id=f"now{n}", title="t", status=status, sla_state=state, sla_paused=paused,
                    sla_policy="default", created_at=opened, updated_at=opened, resolved_at=resolved_at,
                )
            )  # fmt: skip
    supervisor = auth(keys["supervisor"])
    now = client.get(URL, headers=supervisor).json()["total"]["now"]
    listed = {
        state: len(client.get(f"/api/v1/cases?sla={state}", headers=supervisor).json()["items"])
        for state in ("at_risk", "breached", "paused")
    }
    assert now == listed == {"at_risk": 1, "breached": 2, "paused": 2}


def test_the_window_is_half_open(client, keys):
    start = datetime(2026, 11, 2, tzinfo=UTC)
    with unit_of_work() as s:
        for n, at in enumerate((start - timedelta(microseconds=1), start, start + timedelta(days=1))):
            s.add(Case(id=f"edge{n}", title="t", sla_policy="default", created_at=at, updated_at=at))
    params = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    body = client.get(URL, params=params, headers=auth(keys["supervisor"])).json()
    assert body["total"]["cases"] == 1
