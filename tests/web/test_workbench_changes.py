"""A process owner's changes from the modeler page in a real browser: the live instances of
reactive_case v1 migrated in bulk (a dry run onto a version without triage says why none can
move, a dry run onto a renamed one that both can, and applying it moves them); a draft version
replayed against the recent cases beside the deployed one; an unfinished diagram kept as the
work-in-progress draft with its problem on the element, reopened on another visit, fixed and
saved as a version. axe-core finds no serious violation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import without_triage
from tests.web.conftest import axe_violations, shot
from tests.web.test_workbench import INSERT_TASK

pytestmark = pytest.mark.xdist_group("browser")
REACTIVE = (Path(__file__).resolve().parents[2] / "processes" / "reactive_case.bpmn").read_bytes()
COMPLAINT = "@acme my order A12345 never arrived, 3 weeks now, this is terrible"


@pytest.fixture(scope="module", autouse=True)
def owners(server):
    server.key("olga", "process_owner")
    server.key("sue", "supervisor")


def _upload(server, xml: bytes) -> int:
    files = {"file": ("reactive_case.bpmn", xml, "application/xml")}
    r = server.call("POST", "/api/v1/processes", server.keys["olga"], files=files)
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


def _status(page, selector, text):
    page.locator(selector, has_text=text).wait_for()


def _version_of(server, case_id):
    case = server.call("GET", f"/api/v1/cases/{case_id}", server.keys["sue"]).json()
    return case["process"]["version"]


def test_an_owner_migrates_live_instances_after_a_dry_run_and_replays_a_draft(server, signed_in):
    cases = [server.signal(f"{COMPLAINT} ({n})") for n in range(2)]
    renamed = _upload(server, REACTIVE.replace(b'name="Triage"', b'name="Triage the depot"'))
    gone = _upload(server, without_triage(REACTIVE))

    page = signed_in("olga")
    page.goto(server.url + f"/workbench/processes/reactive_case?version={renamed}")
    page.locator("#status", has_text=f"Opened v{renamed}.").wait_for()
    assert page.get_by_label("From version", exact=True).input_value() == "1", (
        "the version with live instances"
    )

    page.get_by_label("To version", exact=True).select_option(str(gone))
    page.get_by_role("button", name="Dry run").click()
    _status(page, "#migrate-status", f"Dry run v1 → v{gone}: 0 can move, 2 cannot.")
    for case_id in cases:
        row = page.locator(f'#migrate-blocked tr[data-case="{case_id}"]')
        assert "triage: waits_at_removed" in row.inner_text()
    assert page.get_by_role("button", name="Apply the migration").is_disabled()

    page.get_by_label("To version", exact=True).select_option(str(renamed))
    page.get_by_role("button", name="Dry run").click()
    _status(page, "#migrate-status", f"Dry run v1 → v{renamed}: 2 can move, 0 cannot.")
    assert page.locator("#migrate-movable tr[data-case]").count() == 2
    assert {_version_of(server, c) for c in cases} == {1}, "a dry run moves nothing"
    _no_serious_violations(page, "modeler after a dry run")
    shot(page, "migration-dry-run")

    page.get_by_role("button", name="Apply the migration").click()
    _status(page, "#migrate-status", f"Applied v1 → v{renamed}: 2 moved, 0 stayed.")
    assert {_version_of(server, c) for c in cases} == {renamed}
    assert page.get_by_role("button", name="Apply the migration").is_disabled(), "a new dry run first"
    source = page.get_by_label("From version", exact=True)
    assert source.locator("option:checked").inner_text() == "v1 · 0 live"
    assert source.locator(f'option[value="{renamed}"]').inner_text() == f"v{renamed} · 2 live"

    page.get_by_label("Version to test").select_option(str(renamed))
    page.get_by_role("button", name="Run the replay test").click()
    _status(page, "#replay-status", f"Replayed 2 signal(s) of 2 case(s) of reactive_case against v{renamed}")
    assert "2 differ" in page.locator("#replay-status").inner_text()
    assert page.locator("#replay-cases tr.differs").count() == 2
    row = page.locator(f'#replay-cases tr[data-case="{cases[0]}"]').inner_text()
    assert "Triage the depot (triage)" in row and "Triage (triage)" in row
    assert "triage: 2" in page.locator("#replay-summary").inner_text()
    _no_serious_violations(page, "modeler after a replay")
    shot(page, "replay-history")


def _no_serious_violations(page, name):
    found = axe_violations(page)
    assert found == [], f"{name}: {found}"


BAD_FORM = {"type": "object", "required": ["facts_ok"], "properties": {"facts_ok": {"type": "bool"}}}
GOOD_FORM = {"type": "object", "required": ["facts_ok"], "properties": {"facts_ok": {"type": "boolean"}}}


def _fill_form(page, schema):
    form = page.get_by_label("Form (JSON Schema, Draft 2020-12)")
    form.fill(json.dumps(schema))
    form.blur()


def test_an_unfinished_diagram_is_kept_as_a_draft_reopened_with_its_problems_then_saved_as_a_version(
    server, signed_in
):
    olga = server.keys["olga"]
    versions = lambda: [  # noqa: E731
        v["version"]
        for d in server.call("GET", "/api/v1/processes", olga).json()["items"]
        if d["key"] == "reactive_case"
        for v in d["versions"]
    ]
    before = versions()
    page = signed_in("olga")
    page.goto(server.url + "/workbench/processes/reactive_case")
    _status(page, "#status", "Opened v1.")
    assert page.evaluate(INSERT_TASK) == "check_facts"
    _fill_form(page, BAD_FORM)
    page.get_by_role("button", name="Save as version").click()
    _status(page, "#status", "Not saved as a version:")
    assert versions() == before, "an invalid diagram is no version"

    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/workbench/processes/reactive_case?draft=1&drafted=1")
    _status(page, "#status", "Draft saved:")
    assert "problem(s), marked on the diagram" in page.locator("#status").inner_text()
    assert page.locator('g.djs-element.sift-problem[data-element-id="check_facts"]').count() == 1
    draft = server.call("GET", "/api/v1/processes/reactive_case/draft", olga).json()
    assert draft["valid"] is False and draft["base_version"] == 1 and draft["saved_by"] == "olga"
    assert {p["element_id"] for p in draft["problems"]} == {"check_facts"}
    assert versions() == before and page.locator("#deploy").count() == 0, "a draft cannot be deployed"

    # another visit: the process page says a draft waits, and opens it with its problems
    page.goto(server.url + "/workbench/processes/reactive_case")
    _status(page, "#status", "Opened v1.")
    note = page.locator("#draft-note")
    assert "has a work-in-progress draft, saved by olga" in note.inner_text()
    assert page.locator('g.djs-element[data-element-id="check_facts"]').count() == 0, "v1 is as it was"
    page.get_by_role("button", name="Save draft").click()  # v1 would overwrite the draft: refused
    _status(
        page, "#status", "DraftChanged: 'reactive_case' has another work-in-progress draft, saved by olga"
    )
    kept = server.call("GET", "/api/v1/processes/reactive_case/draft", olga).json()
    assert kept["sha256"] == draft["sha256"]
    page.get_by_role("link", name="Open the draft").click()
    page.wait_for_url("**/workbench/processes/reactive_case?draft=1")
    _status(page, "#status", "Opened the draft saved by olga:")
    assert page.locator('g.djs-element.sift-problem[data-element-id="check_facts"]').count() == 1
    _no_serious_violations(page, "modeler on a draft")
    shot(page, "modeler-draft")

    page.locator('#problems li.problem[data-element="check_facts"] button').click()
    _fill_form(page, GOOD_FORM)
    page.get_by_role("button", name="Save draft").click()
    _status(page, "#status", "Draft saved: it validates")
    assert page.locator("g.djs-element.sift-problem").count() == 0
    assert server.call("GET", "/api/v1/processes/reactive_case/draft", olga).json()["valid"] is True

    page.get_by_role("button", name="Save as version").click()
    page.wait_for_url("**/workbench/processes/reactive_case?version=*&saved=1")
    number = max(before) + 1
    _status(page, "#status", f"Saved as version {number}, not deployed yet.")
    assert versions() == [*before, number] and page.locator("#draft-note").count() == 0
    gone = server.call("GET", "/api/v1/processes/reactive_case/draft", olga)
    assert gone.status_code == 404 and gone.json()["error"] == "DraftNotFound"
    xml = server.call("GET", f"/api/v1/processes/reactive_case/versions/{number}/xml", olga).text
    assert 'id="check_facts"' in xml and '"boolean"' in xml
