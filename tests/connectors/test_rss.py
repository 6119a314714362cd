"""RSS and Atom feeds from a fake site on 127.0.0.1: entries become signals (and cases),
conditional GET with ETag and Last-Modified, a feed that ignores it offers each entry once,
a 429 waits its Retry-After, and an error backs off."""

from __future__ import annotations

from typing import Any

from tests.connectors.fake import Req, fake_network, fixture
from tests.connectors.helpers import case_of, create, run, signals, status

ETAG, MODIFIED = '"v1"', "Mon, 30 Nov 2026 09:30:00 GMT"


def _conditional(body: bytes, content_type: str) -> Any:
    def answer(req: Req) -> Any:
        if req.headers.get("if-none-match") == ETAG:
            return 304, {"ETag": ETAG}, b""
        return 200, {"Content-Type": content_type, "ETag": ETAG, "Last-Modified": MODIFIED}, body

    return answer


def test_feed_entries_become_signals_once_with_conditional_gets(client, keys, connector_key):
    with fake_network() as fake:
        fake.route("GET", "/reviews.rss", _conditional(fixture("feed.rss"), "application/rss+xml"))
        stale = {"body": fixture("feed.atom")}
        fake.route(
            "GET", "/status.atom", lambda req: (200, {"Content-Type": "application/atom+xml"}, stale["body"])
        )
        made = create(
            client,
            keys,
            name="reviews",
            kind="rss",
            options={"feeds": [f"{fake.url}/reviews.rss", f"{fake.url}/status.atom"]},
        )
        first = run("reviews")
        assert first.outcome == "ok" and first.new == 3, first.error
        got = signals("rss")
        review = got[f"{fake.url}/reviews.rss#901"]
        assert (
            review.text
            == "Two stars: delivery took a month\nThe blender is fine but delivery took a month and nobody answered my emails."
        )
        assert review.author["handle"] == "maria_k" and review.url == "https://reviews.example/acme/r/901"
        assert review.posted_at.isoformat() == "2026-11-30T08:00:00+00:00"
        incident = got["tag:status.example,2026:incident-77"]
        assert incident.meta["feed_title"] == "Acme status"
        assert case_of("rss", f"{fake.url}/reviews.rss#901")

        second = run("reviews")
        assert second.outcome == "ok" and second.new == 0 and second.repeats == 0
        rss_hits = fake.hits("GET", "/reviews.rss")
        assert (
            rss_hits[1].headers["if-none-match"] == ETAG
            and rss_hits[1].headers["if-modified-since"] == MODIFIED
        )
        assert "if-none-match" not in fake.hits("GET", "/status.atom")[1].headers  # it sent none

        # a new entry in the feed that ignores conditional GET: only it comes in
        stale["body"] = stale["body"].replace(
            b"  <entry>",
            b"  <entry><title>Resolved: checkout</title><id>tag:status.example,2026:incident-78</id>"
            b"<updated>2026-11-30T10:00:00Z</updated><summary>Payments work again.</summary></entry>\n  <entry>",
            1,
        )
        third = run("reviews")
        assert third.new == 1 and third.repeats == 0
        assert status(client, keys, made["id"])["status"]["mentions"] == 4


def test_a_429_waits_retry_after_and_errors_back_off_doubling(client, keys, connector_key):
    with fake_network() as fake:
        answers = [(429, {"Retry-After": "90"}, b""), (500, {}, b"oops"), (503, {}, b"down")]
        fake.route("GET", "/feed", lambda req: answers.pop(0))
        made = create(client, keys, name="flaky", kind="rss", options={"feeds": [f"{fake.url}/feed"]})
        waits = []
        for _ in range(3):
            outcome = run("flaky")
            assert outcome.outcome in ("rate_limited", "failed")
            st = status(client, keys, made["id"])["status"]
            from datetime import datetime

            waits.append(
                round(
                    (
                        datetime.fromisoformat(st["next_run_at"]) - datetime.fromisoformat(st["last_run_at"])
                    ).total_seconds()
                )
            )
        assert waits[0] >= 89  # Retry-After
        assert st["failures"] == 3 and st["last_error"].startswith("HTTP 503")
        assert 19 <= waits[2] <= 21  # the third failure in a row: 5 s doubled twice


def test_the_api_refuses_bad_settings_and_keeps_credentials_secret(client, keys, connector_key, settings_env):
    from tests.helpers import auth

    admin = auth(keys["admin"])
    bad = client.post(
        "/api/v1/connectors",
        json={"name": "x", "kind": "rss", "options": {"feeds": ["ftp://a"]}},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "options.feeds.0"
    bad = client.post("/api/v1/connectors", json={"name": "x", "kind": "myspace"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "kind"
    bad = client.post(
        "/api/v1/connectors",
        json={
            "name": "x",
            "kind": "mastodon",
            "options": {"instance": "https://m.example"},
            "credentials": {"token": "t"},
        },
        headers=admin,
    )
    assert bad.status_code == 422 and {f["field"] for f in bad.json()["fields"]} == {
        "credentials.token",
        "query.hashtags",
    }
    settings_env(connector_key="")
    nokey = client.post(
        "/api/v1/connectors",
        json={
            "name": "x",
            "kind": "mastodon",
            "options": {"instance": "https://m.example"},
            "credentials": {"access_token": "t"},
        },
        headers=admin,
    )
    assert nokey.status_code == 422 and "SIFT_CONNECTOR_KEY" in nokey.json()["detail"]
    assert client.get("/api/v1/connectors", headers=admin).json()["items"] == []  # nothing half-written
