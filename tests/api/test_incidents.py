"""Incidents, call activities, collaborations and instances, as a process owner sees them."""

from __future__ import annotations

from tests.helpers import DATA, auth, drain, signal_body

FILES = DATA / "processes"
FAILING = (FILES / "failing_script.bpmn").read_bytes()


def _upload(client, key: str, data: bytes, *, deploy: bool = True) -> dict:
    r = client.post(
        "/api/v1/processes", files={"file": ("x.bpmn", data, "application/xml")}, headers=auth(key)
    )
    assert r.status_code in (200, 201), r.text
    body = r.json()
    if deploy:
        d = client.post(
            f"/api/v1/processes/{body['key']}/versions/{body['version']}/deploy", headers=auth(key)
        )
        assert d.status_code == 200, d.text
    return body


def _open_case(client, keys) -> dict:
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    assert r.status_code == 202
    drain()
    signal = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["integration"])).json()
    assert signal["status"] == "processed" and signal["error"] is None
    return client.get(f"/api/v1/cases/{signal['case_id']}", headers=auth(keys["supervisor"])).json()


def test_a_failing_script_is_an_incident_listed_everywhere_and_a_retry_with_data_ends_it(client, keys):
    owner = auth(keys["process_owner"])
    _upload(client, keys["process_owner"], FAILING)
    case = _open_case(client, keys)
    assert case["status"] == "open" and case["stage"]["name"] == "score"
    (ref,) = case["incidents"]
    assert (ref["status"], ref["element_id"], ref["error"]) == ("open", "score", "ScriptFailed")

    listed = client.get("/api/v1/incidents?status=open&process=reactive_case", headers=owner).json()
    assert [i["id"] for i in listed["items"]] == [ref["id"]] and listed["next_cursor"] is None
    assert client.get("/api/v1/incidents?process=other", headers=owner).json()["items"] == []
    assert client.get("/api/v1/incidents?status=bogus", headers=owner).status_code == 422

    instances = client.get("/api/v1/processes/reactive_case/instances?version=2", headers=owner).json()[
        "items"
    ]
    (summary,) = instances
    assert (summary["status"], summary["waiting_at"], summary["case_id"]) == (
        "incident",
        ["score"],
        case["id"],
    )
    instance = client.get(f"/api/v1/instances/{summary['id']}", headers=owner).json()
    assert instance["failed"] == ["score"] and "case_opened" in instance["completed"]
    assert instance["data"]["case_id"] == case["id"] and instance["incidents"][0]["id"] == ref["id"]

    metrics = client.get("/metrics").text
    assert 'sift_incidents_open{process="reactive_case"} 1.0' in metrics

    assert (
        client.post(f"/api/v1/incidents/{ref['id']}:retry", json={"dta": {}}, headers=owner).status_code
        == 422
    )
    again = client.post(f"/api/v1/incidents/{ref['id']}:retry", json={}, headers=owner).json()
    assert (again["status"], again["attempts"]) == ("open", 2)
    done = client.post(f"/api/v1/incidents/{ref['id']}:retry", json={"data": {"points": 3}}, headers=owner)
    assert (
        done.status_code == 200
        and done.json()["status"] == "resolved"
        and done.json()["resolution"] == "retried"
    )
    case = client.get(f"/api/v1/cases/{case['id']}", headers=auth(keys["supervisor"])).json()
    assert case["stage"]["name"] == "triage" and [t["name"] for t in case["tasks"]] == ["triage"]
    assert (
        client.get("/api/v1/processes/reactive_case/instances", headers=owner).json()["items"][0]["status"]
        == "running"
    )
    assert 'sift_incidents_open{process="reactive_case"} 0.0' in client.get("/metrics").text

    resolved = client.post(f"/api/v1/incidents/{ref['id']}:retry", json={}, headers=owner)
    assert resolved.status_code == 409 and resolved.json()["error"] == "IncidentResolved"
    assert client.post("/api/v1/incidents/nope:retry", json={}, headers=owner).status_code == 404
    assert client.get("/api/v1/incidents/nope", headers=owner).status_code == 404
    assert client.get("/api/v1/incidents", headers=auth(keys["csr"])).status_code == 403
    timeline = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=auth(keys["supervisor"])).json()[
        "items"
    ]
    assert {"incident.opened", "incident.resolved"} <= {e["type"] for e in timeline}


def test_a_fixed_version_is_migrated_to_on_retry_and_a_version_missing_the_element_is_refused(client, keys):
    owner = auth(keys["process_owner"])
    _upload(client, keys["process_owner"], FAILING)
    (ref,) = _open_case(client, keys)["incidents"]
    gone = _upload(client, keys["process_owner"], FAILING.replace(b'"score"', b'"rescore"'), deploy=False)
    refused = client.post(
        f"/api/v1/incidents/{ref['id']}:retry", json={"version": gone["version"]}, headers=owner
    )
    assert refused.status_code == 409 and refused.json()["error"] == "MigrationRefused"
    assert "score" in refused.json()["detail"]
    missing = client.post(f"/api/v1/incidents/{ref['id']}:retry", json={"version": 99}, headers=owner)
    assert missing.status_code == 404
    fixed = _upload(client, keys["process_owner"], FAILING.replace(b"points * 2", b"2"))
    r = client.post(f"/api/v1/incidents/{ref['id']}:retry", json={"version": fixed["version"]}, headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    instance = client.get(f"/api/v1/instances/{ref and r.json()['instance_id']}", headers=owner).json()
    assert instance["process_version"] == fixed["version"] and instance["active"] == ["triage"]


def test_a_call_activity_calls_the_deployed_process_pinned_at_start(client, keys):
    owner = auth(keys["process_owner"])
    calls = (FILES / "calls_partner_review.bpmn").read_bytes()  # declares encoding="ASCII"
    early = _upload(client, keys["process_owner"], calls, deploy=False)  # before what it calls: a draft
    [missing] = [w for w in early["warnings"] if "partner_review" in w["message"]]
    assert missing["element_id"] == "ask_partner"
    refused = client.post(
        f"/api/v1/processes/reactive_case/versions/{early['version']}/deploy", headers=owner
    )
    assert refused.status_code == 409 and refused.json()["error"] == "CalledProcessNotDeployed"
    assert "partner_review" in refused.json()["detail"]
    _upload(client, keys["process_owner"], (FILES / "partner_review.bpmn").read_bytes())
    deployed = client.post(
        f"/api/v1/processes/reactive_case/versions/{early['version']}/deploy", headers=owner
    )
    assert deployed.status_code == 200, deployed.text
    case = _open_case(client, keys)
    assert [t["name"] for t in case["tasks"]] == ["partner_check"]
    (summary,) = client.get("/api/v1/processes/reactive_case/instances", headers=owner).json()["items"]
    assert summary["called_versions"] == {"partner_review": 1}
    assert summary["waiting_at"] == ["ask_partner", "partner_check"]
    changed = (FILES / "partner_review.bpmn").read_bytes().replace(b"checked = True", b"checked = 2")
    assert _upload(client, keys["process_owner"], changed)["version"] == 2
    (task,) = case["tasks"]
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=auth(keys["supervisor"])
    )
    assert done.status_code == 200, done.text
    instance = client.get(f"/api/v1/instances/{summary['id']}", headers=owner).json()
    assert instance["data"]["checked"] is True  # version 1, pinned when the case opened
    assert instance["active"] == ["triage"] and instance["called_versions"] == {"partner_review": 1}
    later = _open_case(client, keys)
    newest = client.get("/api/v1/processes/reactive_case/instances", headers=owner).json()["items"][0]
    assert newest["case_id"] == later["id"] and newest["called_versions"] == {"partner_review": 2}


def test_a_collaboration_of_two_pools_is_one_process_keyed_by_the_collaboration(client, keys):
    body = _upload(client, keys["process_owner"], (FILES / "two_pools.bpmn").read_bytes(), deploy=False)
    assert (body["key"], body["name"]) == ("care_and_partner", "Care and partner")
    detail = client.get("/api/v1/processes/care_and_partner/versions/1", headers=auth(keys["process_owner"]))
    assert detail.status_code == 200


def test_a_file_with_two_unrelated_executable_processes_names_them(client, keys):
    data = (FILES / "two_pools.bpmn").read_bytes().replace(b'processRef="partner"', b'processRef="nobody"')
    r = client.post(
        "/api/v1/processes",
        files={"file": ("x.bpmn", data, "application/xml")},
        headers=auth(keys["process_owner"]),
    )
    assert r.status_code == 422
    assert "care, partner" in r.json()["fields"][0]["message"]
