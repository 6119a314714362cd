"""A process owner's workbench in a real browser: the reactive case changed in the modeler
(a user task with a form added, its problem seen on the element, fixed, saved, compared,
deployed) runs for the next case; a routing-table edit is tested against a real signal and
deployed; a failing script's incident is seen on the instance's diagram and retried with the
missing data. axe-core finds no serious violation on any of the pages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.web.conftest import axe_violations, shot

pytestmark = pytest.mark.xdist_group("browser")
DATA = Path(__file__).resolve().parents[1] / "data" / "processes"
COMPLAINT = "@acme my order A12345 never arrived, 3 weeks now, this is terrible"

# the new task goes between the "Reopened?" gateway and Triage, everything after it moved right
INSERT_TASK = """() => {
  const m = window.siftModeler;
  const reg = m.get('elementRegistry'), modeling = m.get('modeling'), factory = m.get('elementFactory');
  const triage = reg.get('triage');
  const after = reg.filter(e => !e.waypoints && e.parent === triage.parent && e.x >= triage.x && e.type !== 'label');
  modeling.createSpace(after, [], {x: 160, y: 0}, 'e');
  const flow = reg.get('flow_to_triage');
  const a = flow.waypoints[0], b = flow.waypoints[flow.waypoints.length - 1];
  const shape = modeling.createShape(factory.createShape({type: 'bpmn:UserTask'}),
    {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}, flow);
  modeling.updateProperties(shape, {id: 'check_facts', name: 'Check the facts'});
  m.get('selection').select(shape);
  return shape.id;
}"""


@pytest.fixture(scope="module", autouse=True)
def owners(server):
    server.key("olga", "process_owner")
    server.key("sue", "supervisor")


def _workbench(signed_in, path):
    page = signed_in("olga")
    assert page.url.endswith("/workbench")  # a process owner lands on the workbench
    assert page.get_by_role("link", name="My work").count() == 0
    page.goto(path)
    return page


def _status(page, text):
    page.locator("#status", has_text=text).wait_for()


def _no_serious_violations(page, name):
    found = axe_violations(page)
    assert found == [], f"{name}: {found}"


def test_an_owner_changes_the_reactive_case_in_the_modeler_and_a_new_case_runs_it(server, signed_in):
    page = _workbench(signed_in, server.url + "/workbench/processes/reactive_case")
    _status(page, "Opened v1.")
    _no_serious_violations(page, "modeler")
    assert page.evaluate(INSERT_TASK) == "check_facts"

    # the form, in the properties panel, with a type JSON Schema does not have
    form = page.get_by_label("Form (JSON Schema, Draft 2020-12)")
    bad = {"type": "object", "required": ["facts_ok"], "properties": {"facts_ok": {"type": "bool"}}}
    form.fill(json.dumps(bad))
    form.blur()
    page.get_by_role("button", name="Validate").click()
    problem = page.locator('#problems li.problem[data-element="check_facts"]')
    problem.wait_for()
    assert page.locator('g.djs-element.sift-problem[data-element-id="check_facts"]').count() == 1
    assert page.locator(".badge-overlay.sift-problem").count() >= 1
    shot(page, "modeler-problem")

    good = {
        "type": "object",
        "required": ["facts_ok"],
        "properties": {
            "facts_ok": {"type": "boolean", "title": "Facts checked"},
            "note": {"type": "string", "title": "Note"},
        },
    }
    form.fill(json.dumps(good, indent=2))
    # the live preview draws the form as the case page will
    page.locator("#form-preview").get_by_label("Facts checked *").wait_for()
    assert page.locator("#form-preview textarea").count() == 1  # "note" is long text
    form.blur()
    page.get_by_role("button", name="Validate").click()
    _status(page, "Valid: no problem found.")
    assert page.locator("g.djs-element.sift-problem").count() == 0

    page.get_by_role("button", name="Save as version").click()
    page.wait_for_url("**/workbench/processes/reactive_case?version=2&saved=1")
    _status(page, "Saved as version 2, not deployed yet.")
    page.get_by_role("button", name="Compare with deployed").click()
    page.locator('#changes li.change.added[data-element="check_facts"]').wait_for()
    assert page.locator('g.djs-element.sift-added[data-element-id="check_facts"]').count() == 1
    shot(page, "modeler-compare")
    _no_serious_violations(page, "modeler after compare")

    page.get_by_role("button", name="Deploy this version").click()
    _status(page, "Version 2 is deployed")

    case_id = server.signal(COMPLAINT)
    case = server.call("GET", f"/api/v1/cases/{case_id}", server.keys["sue"]).json()
    assert [t["name"] for t in case["tasks"]] == ["check_facts"], case["tasks"]
    task = server.call("GET", f"/api/v1/tasks/{case['tasks'][0]['id']}", server.keys["sue"]).json()
    assert "facts_ok" in task["form"]["properties"], task
    live = server.call("GET", "/api/v1/processes/reactive_case/instances?version=2", server.keys["olga"])
    assert any(i["case_id"] == case_id and i["waiting_at"] == ["check_facts"] for i in live.json()["items"])

    # the workbench lists the instance where it waits; rolling back is deploying v1 again
    page.goto(server.url + "/workbench")
    row = page.locator(f'.process[data-key="reactive_case"] tr:has(a[href="/cases/{case_id}"])')
    assert "check_facts" in row.inner_text() and "v2" in row.inner_text()
    _no_serious_violations(page, "workbench")
    shot(page, "workbench")
    page.goto(server.url + "/workbench/processes/reactive_case?version=2")
    _status(page, "Opened v2.")
    page.get_by_role("button", name="Roll back to v1").click()
    _status(page, "Version 1 is deployed")
    assert server.call("GET", "/api/v1/processes", server.keys["olga"]).json()["items"]


def test_a_routing_edit_is_tested_on_a_real_signal_and_deployed(server, signed_in):
    case_id = server.signal(COMPLAINT + " (routing)")
    signal_id = server.call("GET", f"/api/v1/cases/{case_id}", server.keys["sue"]).json()["signals"][0]["id"]
    fired = server.call("GET", f"/api/v1/signals/{signal_id}", server.keys["feed"]).json()["routing"]
    rule, priority = fired["rule_id"], fired["priority"]
    new_priority = "low" if priority != "low" else "urgent"

    page = _workbench(signed_in, server.url + "/workbench/processes/routing")
    _status(page, "Opened v1.")
    _no_serious_violations(page, "decision table")
    cell = page.locator(f'#table [data-element-id="{rule}_out1"]')
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(f'"{new_priority}"')
    page.locator("#table h3, #table .decision-table-name").first.click()

    page.get_by_label("A recent signal").select_option(signal_id)
    page.get_by_role("button", name="Which rule fires?").click()
    page.locator("#fired-draft").wait_for()
    assert rule in page.locator("#fired-deployed").inner_text()
    assert f"priority: {priority}" in page.locator("#fired-deployed").inner_text()
    assert f"priority: {new_priority}" in page.locator("#fired-draft").inner_text()
    _status(page, "The draft decides differently")
    shot(page, "decision-test")

    page.get_by_role("button", name="Save as version").click()
    page.wait_for_url("**/workbench/processes/routing?version=2&saved=1")
    page.get_by_role("button", name="Deploy this version").click()
    _status(page, "Version 2 is deployed")

    again = server.signal(COMPLAINT + " (routing, after the deploy)")
    case = server.call("GET", f"/api/v1/cases/{again}", server.keys["sue"]).json()
    assert case["priority"] == new_priority, case


def test_a_failing_script_is_an_incident_retried_from_the_workbench(server, signed_in):
    olga = server.keys["olga"]
    r = server.call(
        "POST",
        "/api/v1/processes",
        olga,
        files={
            "file": ("failing.bpmn", (DATA / "failing_script_drawn.bpmn").read_bytes(), "application/xml")
        },
    )
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    assert (
        server.call("POST", f"/api/v1/processes/reactive_case/versions/{version}/deploy", olga).status_code
        == 200
    )
    case_id = server.signal(COMPLAINT + " (incident)")
    deadline = time.monotonic() + 20
    while True:
        found = server.call("GET", f"/api/v1/incidents?case_id={case_id}&status=open", olga).json()["items"]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(found) == 1 and found[0]["element_id"] == "score", found
    incident = found[0]

    page = _workbench(signed_in, server.url + "/workbench")
    row = page.locator(f'tr[data-incident="{incident["id"]}"]')
    assert "score" in row.inner_text().lower() or "Score the mention" in row.inner_text()
    page.goto(server.url + f"/workbench/instances/{incident['instance_id']}")
    _status(page, "waits at score")
    assert page.locator('g.djs-element.sift-failed[data-element-id="score"]').count() == 1
    assert page.locator('g.djs-element.sift-completed[data-element-id="case_opened"]').count() == 1
    _no_serious_violations(page, "instance")
    shot(page, "instance-incident")

    page.get_by_label("Data to merge before the retry (JSON)").fill('{"points": 21}')
    page.get_by_role("button", name="Retry").click()
    _status(page, "waits at triage")
    assert page.locator('g.djs-element.sift-completed[data-element-id="score"]').count() == 1
    assert page.locator('g.djs-element.sift-active[data-element-id="triage"]').count() == 1
    assert '"score": 42' in page.locator("#data").inner_text()
    shot(page, "instance-retried")
    after = server.call("GET", f"/api/v1/incidents/{incident['id']}", olga).json()
    assert after["status"] == "resolved" and after["resolution"] == "retried"
