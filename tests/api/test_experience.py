"""CSAT answers on cases and the experience score EEX per process and per channel."""

from __future__ import annotations

from tests.helpers import auth, drain, signal_body

URL = "/api/v1/insights/experience"


def _case(client, keys, **overrides) -> dict:
    r = client.post("/api/v1/signals", json=signal_body(**overrides), headers=auth(keys["integration"]))
    assert r.status_code in (200, 201, 202), r.text
    drain()
    sig = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    return client.get(f"/api/v1/cases/{sig['case_id']}", headers=auth(keys["csr"])).json()


def _resolve(client, keys, case: dict) -> None:
    csr = auth(keys["csr"])
    client.post(f"/api/v1/cases/{case['id']}/claim", headers=csr)
    for data in (
        {"action": "respond", "priority": "high", "topic": "delivery"},
        {"reply": "Sorry! Refund sent.", "then": "resolve"},
        {"resolution_code": "refunded"},
    ):
        case = client.get(f"/api/v1/cases/{case['id']}", headers=csr).json()
        r = client.post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete", json={"data": data}, headers=csr)
        assert r.status_code == 200, r.text


def test_a_csat_answer_shows_on_the_case_and_its_timeline_and_a_later_one_replaces_it(client, keys):
    case = _case(client, keys)
    assert case["csat"] is None
    survey = auth(keys["integration"])
    r = client.post(f"/api/v1/cases/{case['id']}/csat", json={"score": 2, "comment": "slow"}, headers=survey)
    assert r.status_code == 201, r.text
    assert r.json()["score"] == 2 and r.json()["actor"] == "integration"
    again = client.post(f"/api/v1/cases/{case['id']}/csat", json={"score": 5}, headers=survey)
    assert again.status_code == 200 and again.json()["comment"] is None
    shown = client.get(f"/api/v1/cases/{case['id']}", headers=auth(keys["csr"])).json()["csat"]
    assert shown["score"] == 5 and shown["comment"] is None
    timeline = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=auth(keys["csr"])).json()["items"]
    answers = [e["data"] for e in timeline if e["type"] == "csat.received"]
    assert [(a["score"], a["replaced"]) for a in answers] == [(2, False), (5, True)]


def test_bad_csat_answers_are_refused_with_what_to_fix(client, keys):
    case = _case(client, keys)
    survey = auth(keys["integration"])
    for body in ({"score": 0}, {"score": 6}, {"score": "five"}, {}, {"score": 3, "extra": 1}):
        r = client.post(f"/api/v1/cases/{case['id']}/csat", json=body, headers=survey)
        assert r.status_code == 422, (body, r.text)
    r = client.post(
        f"/api/v1/cases/{case['id']}/csat", json={"score": 3, "comment": "x" * 2001}, headers=survey
    )
    assert r.status_code == 422
    r = client.post("/api/v1/cases/nope/csat", json={"score": 3}, headers=survey)
    assert r.status_code == 404
    assert client.get(f"/api/v1/cases/{case['id']}", headers=auth(keys["csr"])).json()["csat"] is None


def test_eex_is_the_weighted_sum_of_the_factors_over_their_count_per_process_and_channel(client, keys):
    answered = _case(client, keys, source="twitter")
    _resolve(client, keys, answered)
    other = _case(client, keys, source="forum")
    survey = auth(keys["integration"])
    client.post(f"/api/v1/cases/{answered['id']}/csat", json={"score": 4}, headers=survey)
    sup = auth(keys["supervisor"])
    by_process = client.get(URL, params={"by": "process"}, headers=sup).json()
    (group,) = by_process["items"]
    assert group["name"] == "reactive_case" and group["cases"] == 2
    factors = group["factors"]
    assert factors["csat"] == {"value": 75.0, "weight": 1.0, "count": 1}  # (4 - 1) / 4
    sentiments = []
    for case in (answered, other):
        for s in client.get(f"/api/v1/cases/{case['id']}", headers=sup).json()["signals"]:
            full = client.get(f"/api/v1/signals/{s['id']}", headers=sup).json()
            sentiments.append(full["enrichment"]["sentiment"]["score"])
    expected_sentiment = (sum(sentiments) / len(sentiments) + 1) / 2 * 100
    assert factors["sentiment"]["count"] == len(sentiments)
    assert abs(factors["sentiment"]["value"] - expected_sentiment) < 0.06
    resolved = client.get(f"/api/v1/cases/{answered['id']}", headers=sup).json()
    assert factors["sla"]["count"] == 1
    assert factors["sla"]["value"] == (100.0 if resolved["sla"]["state"] == "met" else 0.0)
    values = [f["value"] for f in factors.values()]
    assert abs(group["eex"] - sum(values) / 3) < 0.1

    by_channel = {
        g["name"]: g for g in client.get(URL, params={"by": "channel"}, headers=sup).json()["items"]
    }
    assert set(by_channel) == {"twitter", "forum"}
    forum = by_channel["forum"]["factors"]
    assert forum["csat"]["value"] is None and forum["sla"]["value"] is None  # no data: left out of n
    assert by_channel["forum"]["eex"] == forum["sentiment"]["value"]

    r = client.put(f"{URL}/weights", json={"csat": 3, "sla": 0}, headers=sup)
    assert r.status_code == 200 and r.json()["weights"] == {"csat": 3.0, "sentiment": 1.0, "sla": 0.0}
    (group,) = client.get(URL, headers=sup).json()["items"]
    weighted = (group["factors"]["csat"]["value"] * 3 + group["factors"]["sentiment"]["value"]) / 2
    assert abs(group["eex"] - weighted) < 0.1  # a factor weighing 0 leaves n too


def test_bad_weights_and_windows_are_refused(client, keys):
    sup = auth(keys["supervisor"])
    for body in ({"nps": 1}, {"csat": -1}, {"csat": 11}, {"csat": 0, "sentiment": 0, "sla": 0}):
        r = client.put(f"{URL}/weights", json=body, headers=sup)
        assert r.status_code == 422, (body, r.text)
    assert client.get(f"{URL}/weights", headers=sup).json()["weights"] == {
        "csat": 1.0,
        "sentiment": 1.0,
        "sla": 1.0,
    }
    for params in (
        {"by": "colour"},
        {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        {"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"since": "2026-11-01"},
    ):
        r = client.get(URL, params=params, headers=sup)
        assert r.status_code == 422, (params, r.text)
