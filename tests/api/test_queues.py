"""Queues over HTTP: tasks:next, task claim/release/assign, presence, case and signal lists."""

from __future__ import annotations

from engine.db import unit_of_work
from engine.queues import service as queues
from tests.helpers import auth, drain, signal_body


def _join(client, keys, name: str, queue: str) -> None:
    r = client.patch(f"/api/v1/agents/{name}", json={"queues": [queue]}, headers=auth(keys["supervisor"]))
    assert r.status_code == 200, r.text


def _open(client, keys, n: int = 1) -> list[str]:
    ids = []
    for _ in range(n):
        r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
        ids.append(r.json()["id"])
    drain()
    return [client.get(f"/api/v1/signals/{i}", headers=auth(keys["admin"])).json()["case_id"] for i in ids]


def _queue_of(client, keys, case_id: str) -> str:
    return client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"])).json()["queue"]


def test_next_claims_a_task_then_answers_204_and_the_case_lists_show_it(client, keys):
    (case_id,) = _open(client, keys)
    _join(client, keys, "csr", _queue_of(client, keys, case_id))
    none = client.get("/api/v1/cases", params={"assignee": "none"}, headers=auth(keys["csr"])).json()
    assert [c["id"] for c in none["items"]] == [case_id]
    r = client.post("/api/v1/tasks:next", headers=auth(keys["csr"]))
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["case_id"] == case_id and task["assignee"] == "csr" and task["urgency"] > 0
    again = client.post("/api/v1/tasks:next", headers=auth(keys["csr"]))
    assert again.status_code == 204 and again.headers["Sift-Next-Reason"] == "nothing"
    mine = client.get(
        "/api/v1/cases",
        params={"assignee": "me", "status": "open", "sort": "sla_due"},
        headers=auth(keys["csr"]),
    )
    assert [c["id"] for c in mine.json()["items"]] == [case_id]
    assert (
        client.get("/api/v1/cases", params={"assignee": "none"}, headers=auth(keys["csr"])).json()["items"]
        == []
    )
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]
    claimed = [e for e in timeline if e["type"] == "case.claimed"]
    assert claimed[0]["actor"] == "csr" and claimed[0]["data"]["task_id"] == task["id"]
    assert client.post("/api/v1/tasks:next", headers=auth(keys["supervisor"])).status_code == 403


def test_an_away_csr_gets_nothing_new_until_available_again(client, keys):
    (case_id,) = _open(client, keys)
    _join(client, keys, "csr", _queue_of(client, keys, case_id))
    r = client.patch("/api/v1/agents/me", json={"away": True}, headers=auth(keys["csr"]))
    assert r.status_code == 200 and r.json()["away"] is True and r.json()["away_since"]
    away = client.post("/api/v1/tasks:next", headers=auth(keys["csr"]))
    assert away.status_code == 204 and away.headers["Sift-Next-Reason"] == "away"
    client.patch("/api/v1/agents/me", json={"away": False}, headers=auth(keys["csr"]))
    assert client.post("/api/v1/tasks:next", headers=auth(keys["csr"])).status_code == 200


def test_a_csr_sets_only_their_own_presence(client, keys):
    own = client.patch("/api/v1/agents/me", json={"capacity": 3}, headers=auth(keys["csr"]))
    other = client.patch("/api/v1/agents/csr2", json={"away": True}, headers=auth(keys["csr"]))
    assert own.status_code == 403 and other.status_code == 403
    r = client.patch("/api/v1/agents/csr2", json={"capacity": 3}, headers=auth(keys["supervisor"]))
    assert r.status_code == 200 and r.json()["capacity"] == 3
    bad = client.patch("/api/v1/agents/csr2", json={"capacity": -1}, headers=auth(keys["supervisor"]))
    assert bad.status_code == 422
    assert (
        client.patch(
            "/api/v1/agents/nobody", json={"away": True}, headers=auth(keys["supervisor"])
        ).status_code
        == 404
    )
    listed = client.get("/api/v1/agents", headers=auth(keys["supervisor"])).json()["items"]
    assert {a["name"]: a["capacity"] for a in listed}["csr2"] == 3


def test_claim_release_and_reassignment_of_a_task(client, keys):
    (case_id,) = _open(client, keys)
    task_id = client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"])).json()["tasks"][0]["id"]
    claimed = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(keys["csr"]))
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "csr"
    taken = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(keys["csr2"]))
    assert taken.status_code == 409 and taken.json()["error"] == "CaseHeld"
    assert client.post(f"/api/v1/tasks/{task_id}/release", headers=auth(keys["csr2"])).status_code == 409
    csr_assign = client.post(
        f"/api/v1/tasks/{task_id}/assign", json={"assignee": "csr2"}, headers=auth(keys["csr"])
    )
    assert csr_assign.status_code == 403
    moved = client.post(
        f"/api/v1/tasks/{task_id}/assign", json={"assignee": "csr2"}, headers=auth(keys["supervisor"])
    )
    assert moved.status_code == 200 and moved.json()["assignee"] == "csr2"
    released = client.post(f"/api/v1/tasks/{task_id}/release", headers=auth(keys["csr2"]))
    assert released.status_code == 200 and released.json()["assignee"] is None
    types = [
        e["type"]
        for e in client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]
    ]
    assert [t for t in types if t in ("case.claimed", "case.assigned", "case.released")] == [
        "case.claimed",
        "case.assigned",
        "case.released",
    ]


def test_capacity_is_respected_by_claims_and_next(client, keys):
    first, second = _open(client, keys, 2)
    _join(client, keys, "csr", _queue_of(client, keys, first))
    client.patch("/api/v1/agents/csr", json={"capacity": 1}, headers=auth(keys["supervisor"]))
    assert client.post(f"/api/v1/cases/{first}/claim", headers=auth(keys["csr"])).status_code == 200
    full = client.post(f"/api/v1/cases/{second}/claim", headers=auth(keys["csr"]))
    assert full.status_code == 409 and full.json()["error"] == "AtCapacity"
    r = client.post("/api/v1/tasks:next", headers=auth(keys["csr"]))
    assert r.status_code == 204 and r.headers["Sift-Next-Reason"] == "at_capacity"


def test_a_queue_with_a_strategy_assigns_new_cases(client, keys):
    (probe,) = _open(client, keys)
    queue = _queue_of(client, keys, probe)
    _join(client, keys, "csr", queue)
    bad = client.put(
        f"/api/v1/queues/{queue}", json={"strategy": "lottery"}, headers=auth(keys["supervisor"])
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "strategy"
    r = client.put(
        f"/api/v1/queues/{queue}", json={"strategy": "round_robin"}, headers=auth(keys["supervisor"])
    )
    assert r.status_code == 200 and [m["name"] for m in r.json()["members"]] == ["csr"]
    (case_id,) = _open(client, keys)
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"])).json()["assignee"] == "csr"
    listed = client.get("/api/v1/queues", headers=auth(keys["csr"])).json()["items"]
    assert {q["name"]: q["strategy"] for q in listed}[queue] == "round_robin"


def test_signals_and_tasks_page_with_cursors(client, keys):
    case_ids = _open(client, keys, 5)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "status": "processed"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/signals", params=params, headers=auth(keys["csr"])).json()
        seen += [s["case_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(case_ids)
    one = client.get("/api/v1/signals", params={"case_id": case_ids[0]}, headers=auth(keys["csr"])).json()
    assert [s["case_id"] for s in one["items"]] == [case_ids[0]]
    later = client.get("/api/v1/signals", params={"since": "2999-01-01T00:00:00Z"}, headers=auth(keys["csr"]))
    assert later.json()["items"] == []
    assert (
        client.get("/api/v1/signals", params={"status": "lost"}, headers=auth(keys["csr"])).status_code == 422
    )
    assert (
        client.get("/api/v1/signals", params={"cursor": "nonsense"}, headers=auth(keys["csr"])).status_code
        == 400
    )
    tasks, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/tasks", params=params, headers=auth(keys["csr"])).json()
        tasks += [t["case_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(tasks) == sorted(case_ids)


def test_a_queue_configured_after_it_was_found_missing_is_seen_in_the_same_transaction(client):
    with unit_of_work() as s:
        assert queues.get(s, "late") is None
        assert queues.get(s, "late", lock=True) is None  # remembered, not asked again
        queues.put(s, "late", "round_robin", [], actor="test")
        found = queues.get(s, "late", lock=True)
        assert found is not None and found.strategy == "round_robin"
    with unit_of_work() as s:
        assert queues.get(s, "late") is not None
