"""SLA policies as data: read, replace, and applied to cases opened afterwards."""

from __future__ import annotations

from datetime import datetime

from tests.helpers import auth, drain, signal_body

FAST = {
    "calendar": "24x7",
    "targets": {
        p: {"first_response": "PT10M", "next_response": "PT20M", "resolution": "PT2H"}
        for p in ("urgent", "high", "normal", "low")
    },
    "warning_at": 0.5,
}


def test_default_and_investigation_policies_are_listed(client, keys):
    items = client.get("/api/v1/sla/policies", headers=auth(keys["csr"])).json()["items"]
    assert [p["name"] for p in items] == ["default", "investigation"]
    assert items[0]["targets"]["urgent"]["first_response"] == "PT15M"
    assert items[1]["targets"]["high"]["stage:define_cause"] == "PT4H"


def test_a_changed_policy_applies_to_cases_opened_after_it(client, keys):
    r = client.put("/api/v1/sla/policies/default", json=FAST, headers=auth(keys["supervisor"]))
    assert r.status_code == 200 and r.json()["warning_at"] == 0.5
    client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    case = client.get("/api/v1/cases", headers=auth(keys["csr"])).json()["items"][0]
    opened = datetime.fromisoformat(case["created_at"])
    due = datetime.fromisoformat(case["sla"]["first_response_due"])
    assert round((due - opened).total_seconds()) == 600
    assert case["sla"]["policy"] == "default" and case["sla"]["state"] == "on_track"


def test_bad_policies_name_every_problem(client, keys):
    bad = {
        "calendar": "mars",
        "targets": {**FAST["targets"], "high": {"first_response": "PT4H"}},
        "warning_at": 2,
    }
    r = client.put("/api/v1/sla/policies/default", json=bad, headers=auth(keys["supervisor"]))
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["fields"]}
    assert {"calendar", "warning_at", "targets.high.next_response", "targets.high.resolution"} <= fields
    r = client.put(
        "/api/v1/sla/policies/default",
        json={**FAST, "targets": {"urgent": {}}},
        headers=auth(keys["supervisor"]),
    )
    assert r.status_code == 422
    r = client.put("/api/v1/sla/policies/default", json=FAST, headers=auth(keys["csr"]))
    assert r.status_code == 403


def test_durations():
    from engine.sla.policies import parse_duration

    assert parse_duration("PT15M").total_seconds() == 900
    assert parse_duration("P1DT2H").total_seconds() == 93600
    assert parse_duration("P2W").days == 14
    for bad in ("PT", "P", "4H", "PT4X", "", "P1DT"):
        try:
            parse_duration(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_an_unknown_top_level_field_is_refused_not_ignored(client, keys):
    r = client.put(
        "/api/v1/sla/policies/default",
        json={**FAST, "stages": {"triage": "PT30M"}},
        headers=auth(keys["supervisor"]),
    )
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["fields"]] == ["stages"]
    assert client.get("/api/v1/sla/policies/default", headers=auth(keys["csr"])).json()["warning_at"] == 0.75
