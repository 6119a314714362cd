"""Collaborations as modelers draw them: an executable pool beside pools that only document
(``isExecutable="false"``) or are black boxes (a participant with no process). Sift runs the
executable pools and refuses the file, naming its processes, only when none is executable."""

from __future__ import annotations

from tests.helpers import DATA, auth, drain, signal_body

FILES = DATA / "processes"
BLACK_BOX = (FILES / "pool_and_black_box.bpmn").read_bytes()


def _upload(client, keys, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/processes",
        files={"file": ("pools.bpmn", data, "application/xml")},
        headers=auth(keys["process_owner"]),
    )


def _deploy(client, keys, data: bytes) -> dict:  # type: ignore[no-untyped-def]
    r = _upload(client, keys, data)
    assert r.status_code == 201, r.text
    body = r.json()
    d = client.post(
        f"/api/v1/processes/{body['key']}/versions/{body['version']}/deploy",
        headers=auth(keys["process_owner"]),
    )
    assert d.status_code == 200, d.text
    return body


def _open_case(client, keys) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    assert r.status_code == 202, r.text
    drain()
    signal = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["integration"])).json()
    assert signal["status"] == "processed" and signal["error"] is None, signal
    return client.get(f"/api/v1/cases/{signal['case_id']}", headers=auth(keys["supervisor"])).json()


def _complete(client, keys, task: dict):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=auth(keys["supervisor"])
    )


def test_the_executable_pool_runs_beside_a_documentation_pool_and_a_black_box(client, keys):
    body = _deploy(client, keys, BLACK_BOX)
    assert (body["key"], body["name"]) == ("reactive_case", "Care team")
    case = _open_case(client, keys)
    assert case["process"]["version"] == body["version"]
    (task,) = case["tasks"]
    assert task["name"] == "triage"
    assert _complete(client, keys, task).status_code == 200
    case = client.get(f"/api/v1/cases/{case['id']}", headers=auth(keys["supervisor"])).json()
    assert case["process"]["status"] == "completed" and case["tasks"] == []


def test_two_executable_pools_start_together_and_the_black_box_is_ignored(client, keys):
    body = _deploy(client, keys, (FILES / "two_pools_and_black_box.bpmn").read_bytes())
    assert (body["key"], body["name"]) == ("reactive_case", "Care, partner and customer")
    case = _open_case(client, keys)
    (triage,) = case["tasks"]
    assert triage["name"] == "triage"
    assert _complete(client, keys, triage).status_code == 200
    case = client.get(f"/api/v1/cases/{case['id']}", headers=auth(keys["supervisor"])).json()
    assert [t["name"] for t in case["tasks"]] == ["partner_check"]  # the hand-over was delivered


def test_a_collaboration_with_no_executable_pool_is_a_422_naming_its_processes(client, keys):
    data = BLACK_BOX.replace(
        b'name="Care team" isExecutable="true"', b'name="Care team" isExecutable="false"'
    )
    assert data != BLACK_BOX
    r = _upload(client, keys, data)
    assert r.status_code == 422 and r.json()["error"] == "DefinitionInvalid"
    (problem,) = r.json()["fields"]
    assert "reactive_case, customer_side" in problem["message"]
    assert 'isExecutable="false"' in problem["message"] and 'isExecutable="true"' in problem["message"]


def test_a_file_of_black_boxes_only_says_it_has_no_process(client, keys):
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"'
        b' targetNamespace="https://sift-project.org/tests"><bpmn:collaboration id="talk">'
        b'<bpmn:participant id="us" name="Us"/><bpmn:participant id="them" name="Them"/>'
        b"</bpmn:collaboration></bpmn:definitions>"
    )
    r = _upload(client, keys, data)
    assert r.status_code == 422
    (problem,) = r.json()["fields"]
    assert "no process" in problem["message"] and "black box" in problem["message"]


def test_a_pool_calling_a_process_not_deployed_yet_is_a_draft_until_it_is(client, keys):
    owner = auth(keys["process_owner"])
    r = _upload(client, keys, (FILES / "pools_calling_partner_review.bpmn").read_bytes())
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["key"] == "reactive_case"
    [missing] = [w for w in draft["warnings"] if "partner_review" in w["message"]]
    assert missing["element_id"] == "ask_partner"
    deploy = f"/api/v1/processes/reactive_case/versions/{draft['version']}/deploy"
    refused = client.post(deploy, headers=owner)
    assert refused.status_code == 409 and refused.json()["error"] == "CalledProcessNotDeployed"
    _deploy(client, keys, (FILES / "partner_review.bpmn").read_bytes())
    assert client.post(deploy, headers=owner).status_code == 200
    case = _open_case(client, keys)
    assert sorted(t["name"] for t in case["tasks"]) == ["intake_note", "partner_check"]
