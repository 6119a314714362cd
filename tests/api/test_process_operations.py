"""BPMN service tasks act on their case through Sift's registered operations."""

from __future__ import annotations

from tests.helpers import DATA, auth, drain, signal_body


def _deploy(client, keys, name: str) -> int:
    po = auth(keys["process_owner"])
    with open(DATA / "processes" / name, "rb") as f:
        r = client.post("/api/v1/processes", files={"file": (name, f, "application/xml")}, headers=po)
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    assert (
        client.post(f"/api/v1/processes/reactive_case/versions/{version}/deploy", headers=po).status_code
        == 200
    )
    return version


def test_a_process_escalates_and_routes_its_case_and_notes_the_triage_choice(client, keys):
    version = _deploy(client, keys, "escalating_case.bpmn")
    client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    csr = auth(keys["csr"])
    case = client.get("/api/v1/cases", headers=csr).json()["items"][0]
    case = client.get(f"/api/v1/cases/{case['id']}", headers=csr).json()
    assert case["process"]["version"] == version
    assert case["priority"] == "urgent" and case["queue"] == "vip"
    triage = client.get(f"/api/v1/tasks/{case['tasks'][0]['id']}", headers=csr).json()
    assert triage["queue"] == "vip" and triage["priority"] == "urgent"
    case = client.post(
        f"/api/v1/tasks/{triage['id']}/complete", json={"data": {"action": "respond"}}, headers=csr
    ).json()
    assert case["status"] == "resolved"
    timeline = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=csr).json()["items"]
    updates = [e for e in timeline if e["type"] == "case.updated"]
    assert updates[0]["data"]["priority"]["to"] == "urgent" and updates[0]["actor"] == "process:system"
    notes = [e["data"]["body"] for e in timeline if e["type"] == "case.note"]
    assert notes == ["Triage chose respond"]


def test_an_unknown_operation_is_refused_at_upload(client, keys):
    xml = (DATA / "processes" / "escalating_case.bpmn").read_bytes().replace(b"case.note", b"case.teleport")
    r = client.post(
        "/api/v1/processes",
        files={"file": ("x.bpmn", xml, "application/xml")},
        headers=auth(keys["process_owner"]),
    )
    assert r.status_code == 422
    assert any(f.get("element_id") == "record_choice" for f in r.json()["fields"])
