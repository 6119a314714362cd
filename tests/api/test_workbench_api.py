"""The workbench's two server checks: validating a file without storing it, and testing a
draft routing table against a signal beside the deployed one."""

from __future__ import annotations

from pathlib import Path

from engine.processes.models import ProcessVersion
from tests.helpers import DATA, auth, count, drain, signal_body

SHIPPED = Path(__file__).resolve().parents[2] / "processes"
CORPUS = DATA / "processes"


def _validate(client, key, data: bytes, name: str = "draft.bpmn"):
    files = {"file": (name, data, "application/xml")}
    return client.post("/api/v1/processes:validate", files=files, headers=auth(key))


def test_validate_names_each_problem_and_stores_nothing(client, keys):
    before = count(ProcessVersion)
    r = _validate(client, keys["process_owner"], (CORPUS / "modeler_many_problems.bpmn").read_bytes())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is False and body["key"] is None
    assert len(body["problems"]) >= 2
    assert all(p["message"] for p in body["problems"])
    assert any(p["element_id"] for p in body["problems"])
    assert count(ProcessVersion) == before


def test_validate_a_valid_file_gives_its_key_and_warnings(client, keys):
    r = _validate(client, keys["process_owner"], (SHIPPED / "reactive_case.bpmn").read_bytes())
    assert r.status_code == 200, r.text
    assert (r.json()["valid"], r.json()["key"], r.json()["kind"]) == (True, "reactive_case", "bpmn")


def test_validate_is_for_process_owners(client, keys):
    data = (SHIPPED / "reactive_case.bpmn").read_bytes()
    assert _validate(client, keys["csr"], data).status_code == 403
    assert _validate(client, keys["supervisor"], data).status_code == 403


def _spam_table() -> str:
    """The shipped table with the spam rule sending spam to a queue instead of ignoring it."""
    xml = (SHIPPED / "routing.dmn").read_text()
    changed = xml.replace(
        '<outputEntry id="rule_spam_out0"><text>"ignore"</text></outputEntry>',
        '<outputEntry id="rule_spam_out0"><text>"log_only"</text></outputEntry>',
    )
    assert changed != xml
    return changed


def test_routing_test_compares_the_draft_with_the_deployed_table(client, keys):
    owner = auth(keys["process_owner"])
    body = {"xml": _spam_table(), "context": {"intent": "spam"}}
    r = client.post("/api/v1/processes/routing:test", json=body, headers=owner)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["deployed"]["rule_id"] == "rule_spam" and out["deployed"]["outputs"]["action"] == "ignore"
    assert out["draft"]["rule_id"] == "rule_spam" and out["draft"]["outputs"]["action"] == "log_only"
    assert out["deployed"]["version"] == 1 and out["context"]["intent"] == "spam"


def test_routing_test_reads_a_stored_signal(client, keys):
    sid = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"])).json()["id"]
    drain()
    signal = client.get(f"/api/v1/signals/{sid}", headers=auth(keys["csr"])).json()
    r = client.post(
        "/api/v1/processes/routing:test", json={"signal_id": sid}, headers=auth(keys["process_owner"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["draft"] is None
    assert r.json()["deployed"]["rule_id"] == signal["routing"]["rule_id"]


def test_routing_test_refuses_bad_input_with_what_to_fix(client, keys):
    owner = auth(keys["process_owner"])
    both = client.post(
        "/api/v1/processes/routing:test", json={"signal_id": "x", "context": {}}, headers=owner
    )
    assert both.status_code == 422 and "exactly one" in both.json()["detail"]
    missing = client.post("/api/v1/processes/routing:test", json={"signal_id": "nope"}, headers=owner)
    assert missing.status_code == 404
    broken = (CORPUS / "broken_table.dmn").read_text()
    r = client.post("/api/v1/processes/routing:test", json={"xml": broken, "context": {}}, headers=owner)
    assert r.status_code == 422 and r.json()["fields"]
    bpmn = (SHIPPED / "reactive_case.bpmn").read_text()
    r = client.post("/api/v1/processes/routing:test", json={"xml": bpmn, "context": {}}, headers=owner)
    assert r.status_code == 422 and "not the routing table" in r.json()["detail"]
    assert (
        client.post(
            "/api/v1/processes/routing:test", json={"context": {}}, headers=auth(keys["csr"])
        ).status_code
        == 403
    )
