"""A process owner's changes from the modeler page in a real browser: the live instances of
reactive_case v1 migrated in bulk (a dry run onto a version without triage says why none can
move, a dry run onto a renamed one that both can, and applying it moves them); a draft version
replayed against the recent cases beside the deployed one. axe-core finds no serious violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import without_triage
from tests.web.conftest import axe_violations, shot

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
