"""Business calendars over HTTP: create, read, validation, policies naming them, the preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.test_sla_policies import FAST
from tests.helpers import auth, drain, signal_body

BERLIN_OFFICE = {
    "time_zone": "Europe/Berlin",
    "hours": {
        **{d: ["09:00-12:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["10:00-14:00"],
    },
    "holidays": {"country": "DE", "subdivision": "BY"},
    "overrides": {"2026-12-24": ["09:00-12:00"], "2026-12-31": []},
}
OFFICE_9_17 = {
    "time_zone": "Europe/Berlin",
    "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE"},
}


def put_calendar(client, keys, name, body, role="supervisor"):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/sla/calendars/{name}", json=body, headers=auth(keys[role]))


def test_24x7_is_built_in_and_cannot_be_replaced(client, keys):
    items = client.get("/api/v1/sla/calendars", headers=auth(keys["csr"])).json()["items"]
    assert [c["name"] for c in items] == ["24x7"]
    assert items[0]["builtin"] is True and items[0]["hours"]["sun"] == ["00:00-24:00"]
    r = put_calendar(client, keys, "24x7", OFFICE_9_17)
    assert r.status_code == 409 and r.json()["error"] == "Conflict"


def test_a_supervisor_creates_a_calendar_everyone_can_read(client, keys):
    r = put_calendar(client, keys, "munich", BERLIN_OFFICE)
    assert r.status_code == 200, r.json()
    made = r.json()
    assert made["hours"]["mon"] == ["09:00-12:30", "13:30-17:00"] and made["hours"]["sun"] == []
    assert made["holidays"] == {"country": "DE", "subdivision": "BY"}
    assert made["overrides"] == {"2026-12-24": ["09:00-12:00"], "2026-12-31": []}
    assert made["working_day"] == "PT8H" and made["builtin"] is False
    for role in ("csr", "supervisor", "process_owner", "admin"):
        r = client.get("/api/v1/sla/calendars/munich", headers=auth(keys[role]))
        assert r.status_code == 200 and r.json() == made
    assert client.get("/api/v1/sla/calendars/munich", headers=auth(keys["integration"])).status_code == 403
    assert client.get("/api/v1/sla/calendars/nowhere", headers=auth(keys["csr"])).status_code == 404
    assert put_calendar(client, keys, "munich", BERLIN_OFFICE, role="csr").status_code == 403
    assert put_calendar(client, keys, "munich", BERLIN_OFFICE, role="process_owner").status_code == 403
    replaced = put_calendar(client, keys, "munich", {**OFFICE_9_17, "working_day": "PT7H30M"}, role="admin")
    assert replaced.status_code == 200 and replaced.json()["working_day"] == "PT7H30M"
    names = [
        c["name"] for c in client.get("/api/v1/sla/calendars", headers=auth(keys["csr"])).json()["items"]
    ]
    assert names == ["24x7", "munich"]


def test_every_problem_of_a_calendar_is_reported_at_once(client, keys):
    bad = {
        "time_zone": "Europe/Atlantis",
        "hours": {
            "mon": ["09:00-12:30", "12:00-17:00"],
            "tue": ["17:00-09:00"],
            "wed": ["9-5"],
            "thu": ["09:00-25:00"],
            "funday": ["10:00-11:00"],
        },
        "holidays": {"country": "DE", "subdivision": "XX"},
        "overrides": {"2026-02-30": [], "24.12.2026": [], "2026-12-31": "closed"},
        "working_day": "PT25H",
    }
    r = put_calendar(client, keys, "broken", bad)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "InvalidInput" and "time_zone" in body["detail"]
    fields = {f["field"]: f["message"] for f in body["fields"]}
    assert set(fields) == {
        "time_zone",
        "hours.mon",
        "hours.tue.0",
        "hours.wed.0",
        "hours.thu.0",
        "hours.funday",
        "holidays.subdivision",
        "overrides.2026-02-30",
        "overrides.24.12.2026",
        "overrides.2026-12-31",
        "working_day",
    }
    assert "overlap" in fields["hours.mon"] and "ends before it starts" in fields["hours.tue.0"]
    assert "BY" in fields["holidays.subdivision"]
    r = put_calendar(client, keys, "broken", {**OFFICE_9_17, "holidays": {"country": "ATLANTIS"}})
    assert [f["field"] for f in r.json()["fields"]] == ["holidays.country"]
    assert client.get("/api/v1/sla/calendars/broken", headers=auth(keys["csr"])).status_code == 404


def test_a_calendar_with_no_working_time_is_refused(client, keys):
    for hours in ({}, {"mon": [], "sat": []}):
        r = put_calendar(client, keys, "never", {"time_zone": "UTC", "hours": hours})
        assert r.status_code == 422
        assert [f["field"] for f in r.json()["fields"]] == ["hours"]
        assert "never come due" in r.json()["fields"][0]["message"]


def test_a_policy_must_name_an_existing_calendar(client, keys):
    r = client.put(
        "/api/v1/sla/policies/office", json={**FAST, "calendar": "munich"}, headers=auth(keys["supervisor"])
    )
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"] == "calendar" and "24x7" in r.json()["fields"][0]["message"]
    assert put_calendar(client, keys, "munich", BERLIN_OFFICE).status_code == 200
    r = client.put(
        "/api/v1/sla/policies/office", json={**FAST, "calendar": "munich"}, headers=auth(keys["supervisor"])
    )
    assert r.status_code == 200 and r.json()["calendar"] == "munich"


def test_a_case_under_a_business_calendar_gets_working_time_due_times(client, keys):
    """The default policy moved to an office calendar that is closed right now: the case's
    first response falls due at the next opening plus the target, not ten minutes from now."""
    today = datetime.now(UTC).date()
    closed = [(today + timedelta(days=n)).isoformat() for n in (0, 1)]  # a midnight in between is fine
    opens = (today + timedelta(days=2)).isoformat()
    calendar = {
        "time_zone": "UTC",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "overrides": {closed[0]: [], closed[1]: [], opens: ["09:00-17:00"]},
    }
    assert put_calendar(client, keys, "office", calendar).status_code == 200
    policy = {**FAST, "calendar": "office"}
    assert (
        client.put("/api/v1/sla/policies/default", json=policy, headers=auth(keys["supervisor"])).status_code
        == 200
    )
    client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    case = client.get("/api/v1/cases", headers=auth(keys["csr"])).json()["items"][0]
    due = datetime.fromisoformat(case["sla"]["first_response_due"])
    assert due.isoformat() == f"{opens}T09:10:00+00:00"
    assert datetime.fromisoformat(case["sla"]["resolution_due"]).isoformat() == f"{opens}T11:00:00+00:00"


def test_preview_answers_every_target_in_utc_and_in_the_calendar_zone(client, keys):
    assert put_calendar(client, keys, "berlin", OFFICE_9_17).status_code == 200
    targets = {
        p: {"first_response": "PT1H", "next_response": "PT2H", "resolution": "P10D"}
        for p in ("urgent", "high", "normal", "low")
    }
    policy = {"calendar": "berlin", "targets": targets, "warning_at": 0.5}
    assert (
        client.put("/api/v1/sla/policies/office", json=policy, headers=auth(keys["supervisor"])).status_code
        == 200
    )
    body = {"policy": "office", "priority": "high", "opened_at": "2026-06-05T16:30:00+02:00"}  # a Friday
    r = client.post("/api/v1/sla/preview", json=body, headers=auth(keys["csr"]))
    assert r.status_code == 200, r.json()
    got = r.json()
    assert (got["calendar"], got["time_zone"]) == ("berlin", "Europe/Berlin")
    assert got["opened_at"] == "2026-06-05T14:30:00Z"
    first = got["first_response"]
    assert (first["target"], first["working_time"]) == ("PT1H", "PT1H")
    assert first["due_at"] == "2026-06-08T07:30:00Z" and first["due_at_local"] == "2026-06-08T09:30:00+02:00"
    assert first["warning_at_local"] == "2026-06-05T17:00:00+02:00"  # half an hour of work left on Friday
    assert got["next_response"]["due_at_local"] == "2026-06-08T10:30:00+02:00"
    resolution = got["resolution"]
    assert resolution["working_time"] == "PT80H"
    # 30 min on Friday, 9 working days, then 7.5 h: Friday 2026-06-19 16:30 (no national holiday)
    assert resolution["due_at_local"] == "2026-06-19T16:30:00+02:00"
    assert client.post("/api/v1/sla/preview", json=body, headers=auth(keys["integration"])).status_code == 403


def test_preview_names_every_bad_field(client, keys):
    r = client.post(
        "/api/v1/sla/preview",
        json={"policy": "nope", "priority": "p0", "opened_at": "next friday"},
        headers=auth(keys["supervisor"]),
    )
    assert r.status_code == 422 and r.json()["error"] == "InvalidInput"
    assert [f["field"] for f in r.json()["fields"]] == ["policy", "priority", "opened_at"]
    r = client.post(
        "/api/v1/sla/preview",
        json={"policy": "default", "priority": "low", "opened_at": "2026-06-05T16:30:00"},
        headers=auth(keys["supervisor"]),
    )
    assert r.status_code == 422 and [f["field"] for f in r.json()["fields"]] == ["opened_at"]
    r = client.post(
        "/api/v1/sla/preview", json={"policy": "default", "priority": "low"}, headers=auth(keys["csr"])
    )
    assert r.status_code == 200 and r.json()["time_zone"] == "UTC"
    assert r.json()["resolution"]["working_time"] == "PT72H"


def test_a_target_that_would_take_decades_in_its_calendar_is_refused(client, keys):
    sparse = {"time_zone": "UTC", "hours": {"mon": ["09:00-10:00"]}, "working_day": "PT24H"}
    assert put_calendar(client, keys, "sparse", sparse).status_code == 200
    targets = {p: dict(FAST["targets"][p]) for p in FAST["targets"]}
    targets["low"]["resolution"] = "P1000D"  # 24,000 hours at one hour a week
    r = client.put(
        "/api/v1/sla/policies/slow",
        json={**FAST, "calendar": "sparse", "targets": targets},
        headers=auth(keys["supervisor"]),
    )
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["fields"]] == ["targets.low.resolution"]
    assert "more than 20 years" in r.json()["fields"][0]["message"]
