"""Mastodon against a fake instance on 127.0.0.1: the hashtag and mention streams (server-sent
events) after a REST catch-up, min_id paging, a crash mid-stream that loses and repeats nothing,
and a reply posted as a status in reply to the mention."""

from __future__ import annotations

import copy
import json
from typing import Any

from engine.connectors import mastodon
from tests.connectors.fake import Fake, Req, fake_network, fixture
from tests.connectors.helpers import case_of, create, replies, respond, run, signals, status
from tests.helpers import deliver

TAG = "/api/v1/timelines/tag/acme"
NOTES = "/api/v1/notifications"


def _timeline(items: list[dict[str, Any]]) -> Any:
    """Mastodon's paging: newest first; with min_id, the page just after it."""

    def answer(req: Req) -> Any:
        limit = int(req.arg("limit") or 20)
        ordered = sorted(items, key=lambda s: int(s["id"]))
        if req.arg("min_id"):
            page = [s for s in ordered if int(s["id"]) > int(req.arg("min_id") or 0)][:limit]
        else:
            page = ordered[-limit:]
        return 200, {}, list(reversed(page))

    return answer


def _serve(fake: Fake, tag: list[dict[str, Any]], notes: list[dict[str, Any]]) -> None:
    fake.route("GET", TAG, _timeline(tag))
    fake.route("GET", NOTES, _timeline(notes))
    fake.route(
        "POST",
        "/api/v1/statuses",
        lambda req: (200, {}, {"id": "120000000000000001", "content": req.json()["status"]}),
    )


def _event(kind: str, item: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(item)}\n\n"


def test_streams_catch_up_and_a_crash_mid_stream_loses_and_repeats_nothing(
    client, keys, connector_key, monkeypatch
):
    tag, notes = fixture("mastodon_tag_acme.json"), fixture("mastodon_notifications.json")
    live = fixture("mastodon_tag_acme_live.json")
    with fake_network() as fake:
        _serve(fake, tag, notes)
        made = create(
            client,
            keys,
            name="acme on social.example",
            kind="mastodon",
            query={"hashtags": ["#acme"], "exclusions": ["giveaway"]},
            options={"instance": fake.url},
            credentials={"access_token": "tok-123"},
        )
        assert made["credentials"] == ["access_token"] and "tok-123" not in json.dumps(made)
        assert made["query"]["hashtags"] == ["acme"]
        # a status posted while the catch-up runs comes through the subscribed stream
        fake.stream("/api/v1/streaming/hashtag").put(_event("update", live[0]))
        fake.stream("/api/v1/streaming/user/notification").put(":thump\n\n")
        first = run("acme on social.example", 1.5)
        assert first.outcome == "ok", first.error
        host = fake.url.removeprefix("http://")
        got = signals("mastodon")
        assert sorted(got) == sorted(
            f"{host}/{i}"
            for i in (
                "110000000000000101",
                "110000000000000102",
                "110000000000000105",
                "110000000000000106",
                "110000000000000110",
            )
        )  # 103 names the exclusion, 104 is a boost, 5002 is a favourite
        jane = got[f"{host}/110000000000000101"]
        assert jane.text == "My #acme order A12345 never arrived, 3 weeks now"
        assert jane.author["handle"] == f"@jane@{host}" and jane.author["followers"] == 1200
        assert got[f"{host}/110000000000000105"].in_reply_to == f"{host}/110000000000000101"
        assert got[f"{host}/110000000000000110"].author["handle"] == "@omar@other.example"
        assert all(req.headers["authorization"] == "Bearer tok-123" for req in fake.hits("GET", NOTES))
        assert fake.hits("GET", NOTES)[0].query["types[]"] == ["mention"]
        cursors = {c["stream"]: c["value"] for c in status(client, keys, made["id"])["status"]["cursors"]}
        assert cursors == {"tag:acme": {"id": "110000000000000106"}, "mentions": {"id": "5002"}}

        # the next run: one live status arrives, then the process dies while reading the next
        monkeypatch.setattr(mastodon, "PAGE", 2)
        fake.stream("/api/v1/streaming/hashtag").put(_event("update", live[1]))
        crash_on = "110000000000000108"
        fake.stream("/api/v1/streaming/hashtag").put(_event("update", {**live[1], "id": crash_on}))
        real_take = mastodon._Stream.take

        def dying_take(self, items):
            if any(str(i["id"]) == crash_on for i in items):
                raise RuntimeError("killed")
            return real_take(self, items)

        monkeypatch.setattr(mastodon._Stream, "take", dying_take)
        crashed = run("acme on social.example", 1.5)
        assert crashed.outcome == "failed" and "killed" in (crashed.error or "")
        assert cursors_of(client, keys, made["id"])["tag:acme"] == {"id": "110000000000000107"}

        # while it was down the instance got more; the restart catches up from the cursor, two a page
        monkeypatch.setattr(mastodon._Stream, "take", real_take)
        later = []
        for n in (108, 109, 111):
            extra = copy.deepcopy(live[1])
            extra["id"] = f"110000000000000{n}"
            extra["content"] = f"<p>#acme problem number {n}</p>"
            later.append(extra)
        tag.extend([live[0], live[1], *later])
        before = len(fake.hits("GET", TAG))
        again = run("acme on social.example", 0.5)
        assert again.outcome == "ok", again.error
        pages = [r.arg("min_id") for r in fake.hits("GET", TAG)[before:]]
        assert pages == ["110000000000000107", "110000000000000109"]  # a short page is the last
        got = signals("mastodon")
        assert len(got) == 9 and again.new == 3 and again.repeats == 0
        overall = status(client, keys, made["id"])["status"]
        assert overall["mentions"] == 9 and overall["repeats"] == 0 and overall["failures"] == 0


def cursors_of(client, keys, connector_id):
    return {c["stream"]: c["value"] for c in status(client, keys, connector_id)["status"]["cursors"]}


def test_a_mention_becomes_a_case_and_the_reply_is_a_status_in_reply_to_it(client, keys, connector_key):
    tag, notes = fixture("mastodon_tag_acme.json"), fixture("mastodon_notifications.json")
    with fake_network() as fake:
        _serve(fake, tag, notes)
        create(
            client,
            keys,
            name="poll",
            kind="mastodon",
            query={"hashtags": ["acme"]},
            options={"instance": fake.url, "stream": False, "reply_visibility": "unlisted"},
            credentials={"access_token": "tok-9"},
        )
        assert run("poll").outcome == "ok"
        host = fake.url.removeprefix("http://")
        case_id = case_of("mastodon", f"{host}/110000000000000110")
        respond(client, keys, case_id, "Sorry Omar, we are on it: DM us the order number.")
        deliver(lambda: replies(client, keys, case_id)[0]["status"] == "sent")
        (post,) = fake.hits("POST", "/api/v1/statuses")
        assert post.json() == {
            "status": "@omar@other.example Sorry Omar, we are on it: DM us the order number.",
            "in_reply_to_id": "110000000000000110",
            "visibility": "unlisted",
        }
        (reply,) = replies(client, keys, case_id)
        assert (
            post.headers["idempotency-key"] == reply["id"] and post.headers["authorization"] == "Bearer tok-9"
        )
        assert reply["external_id"] == f"{host}/120000000000000001"


def test_a_429_backs_off_for_retry_after_and_the_next_due_run_waits(client, keys, connector_key):
    from engine.connectors import service

    with fake_network() as fake:
        fake.route("GET", TAG, (429, {"Retry-After": "120"}, {"error": "Too many requests"}))
        made = create(
            client,
            keys,
            name="busy",
            kind="mastodon",
            query={"hashtags": ["acme"]},
            options={"instance": fake.url, "stream": False},
        )
        outcome = run("busy")
        assert outcome.outcome == "rate_limited" and "429" in (outcome.error or "")
        st = status(client, keys, made["id"])["status"]
        from datetime import datetime

        wait = (
            datetime.fromisoformat(st["next_run_at"]) - datetime.fromisoformat(st["last_run_at"])
        ).total_seconds()
        assert 119 <= wait <= 125 and st["failures"] == 1 and "429" in st["last_error"]
        assert service.run_due() == []  # not due: it waits
        assert len(fake.hits("GET", TAG)) == 1
