"""The whole path through the HTTP API: a mention becomes a case a CSR works to resolution."""

from __future__ import annotations

from tests.helpers import auth, drain, signal_body


def _open_case(client, keys, **overrides) -> dict:
    r = client.post("/api/v1/signals", json=signal_body(**overrides), headers=auth(keys["integration"]))
    assert r.status_code == 202
    drain()
    sig = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    assert sig["status"] == "processed", sig
    assert sig["case_id"], sig
    return sig


def test_a_complaint_opens_a_case_at_triage_and_is_worked_to_resolution(client, keys):
    sig = _open_case(client, keys)
    assert sig["enrichment"]["sentiment"]["label"] == "negative"
    assert sig["routing"]["action"] == "open_case"
    assert sig["routing"]["rule"].startswith("routing v1")
    csr = auth(keys["csr"])
    case = client.get(f"/api/v1/cases/{sig['case_id']}", headers=csr).json()
    assert case["status"] == "open" and case["kind"] == "reactive"
    assert case["process"]["key"] == "reactive_case" and case["process"]["version"] == 1
    assert [t["name"] for t in case["tasks"]] == ["triage"]
    assert case["customer"]["handles"] == ["twitter:@jane"]
    assert case["signals"][0]["text"] == signal_body()["text"]

    assert client.post(f"/api/v1/cases/{case['id']}/claim", headers=csr).status_code == 200
    triage = client.get(f"/api/v1/tasks/{case['tasks'][0]['id']}", headers=csr).json()
    assert "action" in triage["form"]["required"]

    bad = client.post(f"/api/v1/tasks/{triage['id']}/complete", json={"data": {}}, headers=csr)
    assert bad.status_code == 422 and bad.json()["error"] == "FormInvalid"
    assert "action" in {f["field"] for f in bad.json()["fields"]}
    wrong = client.post(
        f"/api/v1/tasks/{triage['id']}/complete", json={"data": {"action": "shout"}}, headers=csr
    )
    assert wrong.status_code == 422

    done = client.post(
        f"/api/v1/tasks/{triage['id']}/complete",
        json={"data": {"action": "respond", "priority": "high", "topic": "delivery"}},
        headers=csr,
    )
    assert done.status_code == 200, done.text
    case = done.json()
    assert case["priority"] == "high" and case["topic"] == "delivery"
    assert [t["name"] for t in case["tasks"]] == ["respond"]
    again = client.post(
        f"/api/v1/tasks/{triage['id']}/complete", json={"data": {"action": "respond"}}, headers=csr
    )
    assert again.status_code == 409 and again.json()["error"] == "TaskNotOpen"

    respond = case["tasks"][0]
    case = client.post(
        f"/api/v1/tasks/{respond['id']}/complete",
        json={"data": {"reply": "Sorry! Refund sent."}},
        headers=csr,
    ).json()
    resolve = case["tasks"][0]
    assert resolve["name"] == "resolve"
    case = client.post(
        f"/api/v1/tasks/{resolve['id']}/complete", json={"data": {"resolution_code": "refunded"}}, headers=csr
    ).json()
    assert case["status"] == "resolved"
    assert case["tasks"] == []
    assert case["resolution"]["code"] == "refunded"
    assert case["process"]["status"] == "completed"

    timeline = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=csr).json()["items"]
    types = [e["type"] for e in timeline]
    for expected in (
        "case.opened",
        "signal.attached",
        "case.claimed",
        "task.completed",
        "reply.queued",
        "case.resolved",
    ):
        assert expected in types, types
    assert "reply.sent" not in types  # no channel adapter is configured: nothing was sent
    assert types.index("case.opened") < types.index("case.resolved")


def test_triage_can_dismiss_as_noise(client, keys):
    sig = _open_case(client, keys)
    csr = auth(keys["csr"])
    case = client.get(f"/api/v1/cases/{sig['case_id']}", headers=csr).json()
    case = client.post(
        f"/api/v1/tasks/{case['tasks'][0]['id']}/complete",
        json={"data": {"action": "dismiss", "reason": "spam"}},
        headers=csr,
    ).json()
    assert case["status"] == "resolved"
    assert case["resolution"] == {"code": "dismissed", "reason": "spam"}


def test_a_case_held_by_another_csr_cannot_be_claimed_or_worked(client, keys):
    sig = _open_case(client, keys)
    cid = sig["case_id"]
    assert client.post(f"/api/v1/cases/{cid}/claim", headers=auth(keys["csr"])).status_code == 200
    taken = client.post(f"/api/v1/cases/{cid}/claim", headers=auth(keys["csr2"]))
    assert taken.status_code == 409 and taken.json()["error"] == "CaseHeld"
    task_id = client.get(f"/api/v1/cases/{cid}", headers=auth(keys["csr"])).json()["tasks"][0]["id"]
    r = client.post(
        f"/api/v1/tasks/{task_id}/complete", json={"data": {"action": "respond"}}, headers=auth(keys["csr2"])
    )
    assert r.status_code == 409 and r.json()["error"] == "TaskHeld"
    assert client.post(f"/api/v1/cases/{cid}/release", headers=auth(keys["csr2"])).status_code == 409
    assert client.post(f"/api/v1/cases/{cid}/release", headers=auth(keys["csr"])).status_code == 200
    assert client.post(f"/api/v1/cases/{cid}/claim", headers=auth(keys["csr2"])).status_code == 200


def test_supervisor_assigns_and_csr_sees_it_as_me(client, keys):
    sig = _open_case(client, keys)
    cid = sig["case_id"]
    r = client.post(
        f"/api/v1/cases/{cid}/assign", json={"assignee": "csr2"}, headers=auth(keys["supervisor"])
    )
    assert r.status_code == 200 and r.json()["assignee"] == "csr2"
    assert (
        client.post(
            f"/api/v1/cases/{cid}/assign", json={"assignee": "csr"}, headers=auth(keys["csr"])
        ).status_code
        == 403
    )
    unknown = client.post(
        f"/api/v1/cases/{cid}/assign", json={"assignee": "ghost"}, headers=auth(keys["supervisor"])
    )
    assert unknown.status_code == 422
    mine = client.get("/api/v1/cases?assignee=me", headers=auth(keys["csr2"])).json()["items"]
    assert [c["id"] for c in mine] == [cid]
    tasks = client.get("/api/v1/tasks?assignee=me", headers=auth(keys["csr2"])).json()["items"]
    assert [t["case_id"] for t in tasks] == [cid]
    assert client.get("/api/v1/cases?assignee=me", headers=auth(keys["csr"])).json()["items"] == []


def test_comments_land_on_the_timeline(client, keys):
    sig = _open_case(client, keys)
    cid = sig["case_id"]
    r = client.post(
        f"/api/v1/cases/{cid}/comments", json={"body": "checking with logistics"}, headers=auth(keys["csr"])
    )
    assert r.status_code == 201
    items = client.get(f"/api/v1/cases/{cid}/timeline", headers=auth(keys["csr"])).json()["items"]
    assert items[-1]["type"] == "case.commented" and items[-1]["data"]["body"] == "checking with logistics"
    assert (
        client.post(f"/api/v1/cases/{cid}/comments", json={"body": ""}, headers=auth(keys["csr"])).status_code
        == 422
    )


def test_unknown_ids_are_404(client, keys):
    csr = auth(keys["csr"])
    assert client.get("/api/v1/cases/nope", headers=csr).status_code == 404
    assert client.get("/api/v1/tasks/nope", headers=csr).status_code == 404
    r = client.post("/api/v1/tasks/nope/complete", json={"data": {}}, headers=csr)
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    assert client.post("/api/v1/cases/nope/claim", headers=csr).status_code == 404


def test_the_complaint_score_reaches_the_api_and_decides_the_route(client, keys):
    likely = _open_case(client, keys, text="@AcmeCare my order never arrived and nobody answers the phone")
    assert likely["enrichment"]["complaint_score"] >= 0.6
    assert likely["routing"]["rule_id"] == "rule_complaint"
    r = client.post(
        "/api/v1/signals",
        json=signal_body(text="lovely walk by the river with my sister today", external_id="calm-1"),
        headers=auth(keys["integration"]),
    )
    drain()
    calm = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    assert calm["enrichment"]["complaint_score"] < 0.6
    assert calm["routing"]["rule_id"] not in ("rule_complaint", "rule_possible_complaint")
