"""Trends in the browser: a replayed stream with a spike (tests/trends/stream.py) opens an
investigation; the board lists the open trend with its severity and a link to it, the
investigation's page shows its cases by status and its spike, a child's page its investigation;
axe-core finds no serious violation on those panels."""

from __future__ import annotations

import time

import pytest

from tests.trends import stream
from tests.web.conftest import axe_violations, shot

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(scope="module")
def spiked(server):
    server.key("sam", "supervisor", queues=["care"])
    items = stream.mentions(run="web")
    for at in range(0, len(items), 500):
        r = server.call(
            "POST", "/api/v1/signals:batch", server.keys["feed"], json={"signals": items[at : at + 500]}
        )
        assert r.status_code == 202, r.text
    deadline = time.monotonic() + 300
    while True:
        found = server.call("GET", "/api/v1/trends?kind=topic", server.keys["sam"]).json()["items"]
        pending = server.call("GET", "/api/v1/signals?status=pending&limit=1", server.keys["feed"]).json()
        if found and found[0]["case_id"] and not pending["items"]:
            return found[0]
        assert time.monotonic() < deadline, "the replayed spike opened no investigation in time"
        time.sleep(0.5)


def test_the_board_and_the_case_pages_show_the_trend_and_its_investigation(server, signed_in, spiked):
    page = signed_in("sam")
    page.goto(server.url + "/board")
    row = page.locator(f'#trends tr[data-trend="{spiked["id"]}"]')
    assert "delivery" in row.inner_text() and f"{spiked['severity']} / 10" in row.inner_text()
    insights = page.locator("#trends tr", has_text="no investigation of its own")
    assert insights.count() >= 1  # the entity and keyword spikes of the same burst
    assert insights.first.locator("th").inner_text().split()[0] in ("entity", "keyword")
    assert axe_violations(page) == []
    shot(page, "board-trends")

    row.get_by_role("link").click()
    page.wait_for_url(f"**/cases/{spiked['case_id']}")
    panel = page.locator("#investigation")
    assert "open" in panel.locator(".badge").first.inner_text()
    assert "delivery" in page.locator("#case-trends").inner_text()
    assert axe_violations(page) == []
    shot(page, "case-investigation")

    page.locator("#children a").first.click()
    page.wait_for_url("**/cases/**")
    assert page.url.rsplit("/", 1)[1] != spiked["case_id"]
    assert "Part of investigation" in page.locator("#investigation").inner_text()
    assert "Trend of the investigation" in page.locator("#investigation").inner_text()
    assert axe_violations(page) == []
    shot(page, "case-child")
