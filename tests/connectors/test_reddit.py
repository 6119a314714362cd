"""Reddit against a fake site on 127.0.0.1: search and a subreddit's listing paged with
``after`` back to the cursor, a pass cut short by X-Ratelimit-Remaining that saves nothing and
waits for X-Ratelimit-Reset, then completes with nothing lost or repeated; OAuth and a reply
posted as a comment."""

from __future__ import annotations

import copy
from typing import Any

from engine.connectors import reddit
from tests.connectors.fake import Req, fake_network, fixture
from tests.connectors.helpers import case_of, create, replies, respond, run, signals, status
from tests.helpers import deliver


def _listing(items: list[dict[str, Any]], limited: dict[str, Any]) -> Any:
    """Newest first, ``limit`` a page, ``after`` the fullname the page follows; the headers
    carry the budget ``limited`` says."""

    def answer(req: Req) -> Any:
        limit = int(req.arg("limit") or 25)
        after = req.arg("after")
        start = 0
        if after:
            start = next(i for i, c in enumerate(items) if c["data"]["name"] == after) + 1
        page = items[start : start + limit]
        more = page[-1]["data"]["name"] if start + limit < len(items) else None
        headers = {
            "X-Ratelimit-Used": "1",
            "X-Ratelimit-Remaining": str(limited.get("remaining", 99.0)),
            "X-Ratelimit-Reset": "240",
        }
        return (
            200,
            headers,
            {"kind": "Listing", "data": {"after": more, "dist": len(page), "children": page, "before": None}},
        )

    return answer


def test_search_and_subreddit_pages_back_to_the_cursor_and_honours_the_budget(
    client, keys, connector_key, monkeypatch
):
    monkeypatch.setattr(reddit, "PAGE", 2)
    search, sub = fixture("reddit_search.json"), fixture("reddit_r_acme.json")
    budget: dict[str, Any] = {}
    with fake_network() as fake:
        fake.route("GET", "/search.json", _listing(search, budget))
        fake.route("GET", "/r/acme/new.json", _listing(sub, budget))
        made = create(
            client,
            keys,
            name="reddit",
            kind="reddit",
            query={"terms": ["acme"], "exclusions": ["giveaway"]},
            options={"subreddits": ["r/acme"], "base_url": fake.url, "user_agent": "sift-test/1"},
        )
        first = run("reddit")
        assert first.outcome == "ok", first.error
        # a first run takes the newest page of each listing
        assert sorted(signals("reddit")) == ["t3_1h0004", "t3_1h0005", "t3_1h0020", "t3_1h0021"]
        q = fake.hits("GET", "/search.json")[0]
        assert q.arg("q") == "acme" and q.arg("sort") == "new" and q.headers["user-agent"] == "sift-test/1"
        post = signals("reddit")["t3_1h0005"]
        assert post.text == "Acme router keeps dropping wifi\n\nEvery evening at 8pm. Firmware 2.1."
        assert post.author["handle"] == "u/wifi_woes" and post.url.endswith(
            "/r/techsupport/comments/1h0005/post_5/"
        )

        # five new posts while away; the budget runs out after the first page
        newer = []
        for n in range(6, 11):
            item = copy.deepcopy(search[0])
            item["data"].update(
                name=f"t3_1h{n:04d}", id=f"1h{n:04d}", title=f"Acme issue {n}", created_utc=1732960000.0 + n
            )
            newer.insert(0, item)
        search[:0] = newer
        budget["remaining"] = 0.0
        cut = run("reddit")
        assert cut.outcome == "rate_limited" and cut.new == 0
        assert fake.hits("GET", "/search.json")[-1].arg("after") is None  # stopped before page two
        from engine.db import utcnow

        assert cut.next_run_at is not None and 235 <= (cut.next_run_at - utcnow()).total_seconds() <= 245
        budget["remaining"] = 50.0
        done = run("reddit")
        assert done.outcome == "ok" and done.new == 5 and done.repeats == 0
        afters = [r.arg("after") for r in fake.hits("GET", "/search.json")[-3:]]
        assert afters == [None, "t3_1h0009", "t3_1h0007"]  # paged back until it reached t3_1h0005
        assert len(signals("reddit")) == 9
        assert status(client, keys, made["id"])["status"]["repeats"] == 0


def test_a_post_becomes_a_case_and_the_reply_is_a_comment(client, keys, connector_key):
    with fake_network() as fake:
        fake.route("GET", "/r/acme/new.json", _listing(fixture("reddit_r_acme.json"), {}))
        fake.route(
            "POST",
            "/api/v1/access_token",
            lambda req: (
                200,
                {},
                {"access_token": "bearer-7", "token_type": "bearer", "expires_in": 86400, "scope": "*"},
            ),
        )
        fake.route(
            "POST",
            "/api/comment",
            lambda req: (
                200,
                {},
                {
                    "json": {
                        "errors": [],
                        "data": {"things": [{"kind": "t1", "data": {"name": "t1_9zz", "id": "9zz"}}]},
                    }
                },
            ),
        )
        create(
            client,
            keys,
            name="reddit",
            kind="reddit",
            options={
                "subreddits": ["acme"],
                "search": False,
                "base_url": fake.url,
                "oauth_url": fake.url,
                "auth_url": fake.url,
            },
            credentials={
                "client_id": "cid",
                "client_secret": "csecret",
                "username": "acme_care",
                "password": "pw",
            },
        )
        assert run("reddit").outcome == "ok"
        assert fake.hits("GET", "/r/acme/new.json")[0].headers["authorization"] == "bearer bearer-7"
        token = fake.hits("POST", "/api/v1/access_token")[0]
        assert token.form() == {"grant_type": "password", "username": "acme_care", "password": "pw"}
        assert token.headers["authorization"].startswith("Basic ")
        case_id = case_of("reddit", "t3_1h0021")
        respond(client, keys, case_id, "Hi, we have escalated order A77812.")
        deliver(lambda: replies(client, keys, case_id)[0]["status"] == "sent")
        (comment,) = fake.hits("POST", "/api/comment")
        assert comment.form() == {
            "thing_id": "t3_1h0021",
            "text": "Hi, we have escalated order A77812.",
            "api_type": "json",
        }
        assert replies(client, keys, case_id)[0]["external_id"] == "t1_9zz"
