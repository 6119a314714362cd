"""End to end over HTTP: a replayed stream with an injected spike opens exactly one investigation
with the topic's cases under it; the trend, insight and threshold endpoints as a client sees them."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.helpers import auth, drain
from tests.trends import stream


def test_a_spike_opens_one_investigation_with_the_topic_cases_under_it(client, keys, replayed):
    sup = auth(keys["supervisor"])
    trends = client.get("/api/v1/trends", params={"kind": "topic"}, headers=sup).json()["items"]
    assert [t["topic"] for t in trends] == ["delivery"], trends
    trend = trends[0]
    onset = stream.spike_start()
    detected = datetime.fromisoformat(trend["detected_at"])
    assert onset < detected <= onset + timedelta(minutes=5), "found within five minutes, in event time"
    assert trend["volume"] > 2 * trend["baseline"] and 1 <= trend["severity"] <= 10
    assert trend["window"]["end"] == trend["detected_at"] and trend["case_id"]

    investigations = client.get("/api/v1/cases", params={"kind": "investigation"}, headers=sup).json()[
        "items"
    ]
    assert [c["id"] for c in investigations] == [trend["case_id"]]
    inv = client.get(f"/api/v1/cases/{trend['case_id']}", headers=sup).json()
    assert inv["kind"] == "investigation" and inv["topic"] == "delivery" and inv["parent_id"] is None
    assert inv["process"]["key"] == "trend_investigation" and [t["name"] for t in inv["tasks"]] == [
        "define_cause"
    ]

    delivery = _all(client, sup, {"topic": "delivery", "kind": "reactive"})
    billing = _all(client, sup, {"topic": "billing", "kind": "reactive"})
    children = _all(client, sup, {"parent_id": inv["id"]})
    assert {c["id"] for c in children} == {c["id"] for c in delivery} and billing
    assert inv["children"] == {
        "total": len(delivery),
        "by_status": {"open": len(delivery), "waiting": 0, "resolved": 0, "closed": 0},
        "settled": 0,
    }
    child = client.get(f"/api/v1/cases/{delivery[0]['id']}", headers=sup).json()
    assert child["parent_id"] == inv["id"]
    assert not any(
        client.get(f"/api/v1/cases/{c['id']}", headers=sup).json()["parent_id"] for c in billing[:3]
    )
    kinds = [
        e["type"] for e in client.get(f"/api/v1/cases/{inv['id']}/timeline", headers=sup).json()["items"]
    ]
    assert kinds.count("trend.detected") == 1 and kinds[0] == "case.opened"
    linked = client.get(f"/api/v1/cases/{delivery[-1]['id']}/timeline", headers=sup).json()["items"]
    assert [e["data"]["parent_id"] for e in linked if e["type"] == "trend.case_linked"] == [inv["id"]]


def _all(client, headers, params):  # type: ignore[no-untyped-def]
    found, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/cases",
            params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        ).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_a_later_spike_on_the_topic_joins_the_open_investigation_as_evidence(client, keys, replayed):
    sup = auth(keys["supervisor"])
    later = stream.mentions(minutes=100, spike_at=30, seed=9, run="later")
    shift = timedelta(minutes=100)
    for item in later:
        item["created_at"] = (datetime.fromisoformat(item["created_at"]) + shift).isoformat()
    for at in range(0, len(later), 300):
        client.post(
            "/api/v1/signals:batch", json={"signals": later[at : at + 300]}, headers=auth(keys["integration"])
        )
        drain()
    trends = client.get("/api/v1/trends", params={"topic": "delivery"}, headers=sup).json()["items"]
    assert len(trends) == 2 and trends[0]["attached"] and not trends[1]["attached"]
    assert trends[0]["case_id"] == trends[1]["case_id"]
    assert (
        len(client.get("/api/v1/cases", params={"kind": "investigation"}, headers=sup).json()["items"]) == 1
    )
    kinds = [
        e["type"]
        for e in client.get(f"/api/v1/cases/{trends[0]['case_id']}/timeline", headers=sup).json()["items"]
    ]
    assert "trend.attached" in kinds


def test_insight_series_and_top_issues(client, keys, replayed):
    csr = auth(keys["csr"])
    start = stream.START
    r = client.get(
        "/api/v1/insights/series",
        params={
            "topic": "delivery",
            "bucket": "5m",
            "since": start.isoformat(),
            "until": (start + timedelta(minutes=100)).isoformat(),
        },
        headers=csr,
    )
    assert r.status_code == 200, r.text
    points = r.json()["points"]
    assert len(points) == 20
    quiet, spiking = points[10]["volume"], points[16]["volume"]  # minutes 50-55, 80-85
    assert spiking > 3 * quiet > 0 and points[16]["negative_share"] is not None
    assert sum(p["volume"] for p in points) == sum("never arrived" in m["text"] for m in replayed)
    top = client.get(
        "/api/v1/insights/top-issues", params={"date": start.date().isoformat()}, headers=csr
    ).json()
    issues = top["items"]
    assert [i["topic"] for i in issues][:1] == ["delivery"] and len(issues) <= 5
    assert {"word": "never arrived", "count": issues[0]["volume"]} in issues[0]["words"]
    assert issues[0]["samples"] and "never arrived" in issues[0]["samples"][0]["text"] and issues[0]["trends"]


def test_bad_insight_and_trend_queries_are_4xx(client, keys):
    csr = auth(keys["csr"])
    assert client.get("/api/v1/insights/series", headers=csr).status_code == 422
    assert (
        client.get("/api/v1/insights/series", params={"topic": "a", "source": "b"}, headers=csr).status_code
        == 422
    )
    r = client.get("/api/v1/insights/series", params={"topic": "a", "bucket": "2h"}, headers=csr)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "bucket"
    r = client.get(
        "/api/v1/insights/series",
        params={"topic": "a", "bucket": "1m", "since": "2020-01-01T00:00:00Z"},
        headers=csr,
    )
    assert r.status_code == 422
    assert (
        client.get("/api/v1/insights/top-issues", params={"date": "2026-13-01"}, headers=csr).status_code
        == 422
    )
    assert client.get("/api/v1/trends", params={"kind": "planet"}, headers=csr).status_code == 422
    assert client.get("/api/v1/trends", params={"cursor": "nope"}, headers=csr).status_code == 400
    assert client.get("/api/v1/trends/nope", headers=csr).status_code == 404


def test_thresholds_per_topic_are_listed_and_edited_by_supervisors(client, keys):
    sup = auth(keys["supervisor"])
    items = client.get("/api/v1/trends/thresholds", headers=sup).json()["items"]
    assert [(t["topic"], t["builtin"]) for t in items] == [("default", True)]
    r = client.put("/api/v1/trends/thresholds/Delivery", json={"score": 6, "min_volume": 25}, headers=sup)
    assert r.status_code == 200, r.text
    assert (
        r.json()["topic"] == "delivery"
        and r.json()["score"] == 6
        and r.json()["cooldown_minutes"] == items[0]["cooldown_minutes"]
    )
    r = client.put(
        "/api/v1/trends/thresholds/delivery",
        json={"score": 0.1, "min_negative_share": 2, "page_severity": None},
        headers=sup,
    )
    assert r.status_code == 422
    r = client.put(
        "/api/v1/trends/thresholds/delivery", json={"score": 0.1, "min_negative_share": 2}, headers=sup
    )
    assert r.status_code == 422 and {f["field"] for f in r.json()["fields"]} == {
        "score",
        "min_negative_share",
    }
    assert (
        client.put("/api/v1/trends/thresholds/delivery", json={"score": "high"}, headers=sup).status_code
        == 422
    )
    assert (
        client.put("/api/v1/trends/thresholds/delivery", json={"colour": 1}, headers=sup).status_code == 422
    )
    assert (
        client.put(
            "/api/v1/trends/thresholds/delivery", json={"score": 5}, headers=auth(keys["csr"])
        ).status_code
        == 403
    )
    listed = client.get("/api/v1/trends/thresholds", headers=sup).json()["items"]
    assert [(t["topic"], t["score"]) for t in listed] == [("default", items[0]["score"]), ("delivery", 6.0)]


def test_a_higher_threshold_on_the_topic_means_no_investigation(client, keys):
    sup = auth(keys["supervisor"])
    client.put("/api/v1/trends/thresholds/delivery", json={"min_volume": 10_000}, headers=sup)
    items = stream.mentions()
    for at in range(0, len(items), 300):
        client.post(
            "/api/v1/signals:batch", json={"signals": items[at : at + 300]}, headers=auth(keys["integration"])
        )
        drain()
    assert client.get("/api/v1/trends", params={"kind": "topic"}, headers=sup).json()["items"] == []
    assert client.get("/api/v1/cases", params={"kind": "investigation"}, headers=sup).json()["items"] == []


def test_the_board_and_the_case_pages_show_the_trend_and_its_investigation(client, keys, replayed):
    sup = auth(keys["supervisor"])
    trend = client.get("/api/v1/trends", params={"kind": "topic"}, headers=sup).json()["items"][0]
    inv = client.get(f"/api/v1/cases/{trend['case_id']}", headers=sup).json()
    child = _all(client, sup, {"parent_id": inv["id"]})[0]
    signin = client.post("/signin", data={"key": keys["supervisor"]}, follow_redirects=False)
    assert signin.status_code == 303

    board = client.get("/board").text
    row = board.split(f'<tr data-trend="{trend["id"]}">', 1)[1].split("</tr>", 1)[0]
    assert "topic <b>delivery</b>" in row and f"{trend['severity']} / 10" in row
    assert f'href="/cases/{inv["id"]}"' in row
    assert f"{inv['children']['total']} cases ({inv['children']['total']} open)" in row

    page = client.get(f"/cases/{inv['id']}").text
    panel = page.split('id="investigation"', 1)[1].split("</section>", 1)[0]
    assert f"{inv['children']['total']} cases under it" in panel
    assert f'<span class="badge">{inv["children"]["total"]} open</span>' in panel
    assert f'href="/cases/{child["id"]}"' in panel and "severity" in panel and "<b>delivery</b>" in panel

    page = client.get(f"/cases/{child['id']}").text
    panel = page.split('id="investigation"', 1)[1].split("</section>", 1)[0]
    assert f'Part of investigation <a href="/cases/{inv["id"]}">' in panel
    assert "Trend of the investigation" in panel and f"severity {trend['severity']}" in panel
