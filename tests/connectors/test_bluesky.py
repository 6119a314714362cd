"""Bluesky against a fake Jetstream (WebSocket) and a fake PDS on 127.0.0.1: the firehose
filtered by terms, handles (a DID's mention facet) and hashtags, resume from the time_us cursor
after a crash mid-stream with nothing lost or repeated, a 429 on the handshake, and a reply
written with createRecord and reply refs after createSession."""

from __future__ import annotations

from typing import Any

from engine.connectors import bluesky
from tests.connectors.fake import Req, fake_network, fixture
from tests.connectors.helpers import case_of, create, replies, respond, run, signals, status
from tests.helpers import deliver

QUERY = {
    "terms": ["acme"],
    "handles": ["did:plc:acmebrand"],
    "hashtags": ["AcmeCare"],
    "exclusions": ["giveaway"],
}


def _uri(did: str, rkey: str) -> str:
    return f"at://{did}/app.bsky.feed.post/{rkey}"


def test_the_firehose_is_filtered_and_a_crash_mid_stream_resumes_from_the_cursor(
    client, keys, connector_key, monkeypatch
):
    with fake_network(websocket=True) as fake:
        fake.ws_events.extend(fixture("jetstream_posts.jsonl"))
        made = create(
            client, keys, name="bsky", kind="bluesky", query=QUERY, options={"jetstream_url": fake.ws_url}
        )
        first = run("bsky", 1.0)
        assert first.outcome == "ok", first.error
        got = signals("bluesky")
        assert sorted(got) == sorted(
            [
                _uri("did:plc:jane111", "3lbq2aaa0001"),  # a term
                _uri("did:plc:kim333", "3lbq2aaa0004"),  # mentions the brand's DID
                _uri("did:plc:ann555", "3lbq2aaa0007"),  # the hashtag, as a tag facet
            ]
        )  # not: the weather, an identity event, a delete, the giveaway
        kim = got[_uri("did:plc:kim333", "3lbq2aaa0004")]
        assert kim.author == {"handle": "did:plc:kim333", "id": "did:plc:kim333"}
        assert kim.meta["cid"] == "bafyrei3lbq2aaa0004cid" and kim.posted_at.isoformat().startswith(
            "2026-11-30T09:00:03"
        )
        assert fake.ws_cursors == [None]
        cursor = status(client, keys, made["id"])["status"]["cursors"][0]["value"]
        assert cursor == {"time_us": 1732957200000007, "seen": ["did:plc:ann555/3lbq2aaa0007"]}

        # two live posts; the process dies on the second one
        live = fixture("jetstream_live.jsonl")
        for event in live:
            fake.ws_live.put(event)
        real = bluesky.post_signal

        def dying(r, event):
            if event["time_us"] == live[1]["time_us"]:
                raise RuntimeError("killed")
            return real(r, event)

        monkeypatch.setattr(bluesky, "post_signal", dying)
        crashed = run("bsky", 1.5)
        assert crashed.outcome == "failed" and crashed.new == 1
        assert fake.ws_cursors[-1] == "1732957200000007"

        monkeypatch.setattr(bluesky, "post_signal", real)
        again = run("bsky", 1.0)
        assert again.outcome == "ok", again.error
        assert fake.ws_cursors[-1] == str(live[0]["time_us"])  # Jetstream replays from there
        got = signals("bluesky")
        assert len(got) == 5 and again.new == 1 and again.repeats == 0
        reply = got[_uri("did:plc:jane111", "3lbq2aaa0101")]
        assert reply.in_reply_to == _uri("did:plc:jane111", "3lbq2aaa0001")
        overall = status(client, keys, made["id"])["status"]
        assert overall["mentions"] == 5 and overall["repeats"] == 0


def test_a_429_on_connect_waits_its_retry_after(client, keys, connector_key):
    with fake_network(websocket=True) as fake:
        fake.ws_status.append(429)
        create(client, keys, name="bsky", kind="bluesky", query=QUERY, options={"jetstream_url": fake.ws_url})
        outcome = run("bsky", 0.5)
        assert outcome.outcome == "rate_limited" and "429" in (outcome.error or "")
        from engine.db import utcnow

        assert outcome.next_run_at is not None and 6 <= (outcome.next_run_at - utcnow()).total_seconds() <= 8


def test_a_mention_becomes_a_case_and_the_reply_is_a_record_with_reply_refs(client, keys, connector_key):
    with fake_network(websocket=True) as fake:
        fake.ws_events.extend(fixture("jetstream_posts.jsonl"))
        fake.ws_events.extend(fixture("jetstream_live.jsonl"))
        records: list[dict[str, Any]] = []

        def create_record(req: Req) -> Any:
            assert req.headers["authorization"] == "Bearer jwt-1"
            records.append(req.json())
            return (
                200,
                {},
                {
                    "uri": f"at://did:plc:acmebrand/app.bsky.feed.post/{req.json()['rkey']}",
                    "cid": "bafyreply",
                },
            )

        fake.route(
            "POST",
            "/xrpc/com.atproto.server.createSession",
            lambda req: (
                200,
                {},
                {
                    "accessJwt": "jwt-1",
                    "refreshJwt": "r-1",
                    "did": "did:plc:acmebrand",
                    "handle": "acme.bsky.social",
                },
            ),
        )
        fake.route("POST", "/xrpc/com.atproto.repo.createRecord", create_record)
        create(
            client,
            keys,
            name="bsky",
            kind="bluesky",
            query=QUERY,
            options={"jetstream_url": fake.ws_url, "service": fake.url},
            credentials={"identifier": "acme.bsky.social", "password": "app-pass-1234"},
        )
        assert run("bsky", 1.0).outcome == "ok"
        parent = _uri("did:plc:jane111", "3lbq2aaa0101")
        case_id = case_of("bluesky", parent)
        respond(client, keys, case_id, "Sorry Jane, a new parcel is on its way.")
        deliver(lambda: replies(client, keys, case_id)[0]["status"] == "sent")
        (session,) = fake.hits("POST", "/xrpc/com.atproto.server.createSession")
        assert session.json() == {"identifier": "acme.bsky.social", "password": "app-pass-1234"}
        (record,) = records
        assert record["repo"] == "did:plc:acmebrand" and record["collection"] == "app.bsky.feed.post"
        assert len(record["rkey"]) == 13
        assert record["record"]["text"] == "Sorry Jane, a new parcel is on its way."
        assert record["record"]["reply"] == {
            "root": {"uri": _uri("did:plc:jane111", "3lbq2aaa0001"), "cid": "bafyrei3lbq2aaa0001cid"},
            "parent": {"uri": parent, "cid": "bafyrei3lbq2aaa0101cid"},
        }
        (sent,) = replies(client, keys, case_id)
        assert sent["external_id"] == f"at://did:plc:acmebrand/app.bsky.feed.post/{record['rkey']}"


def test_a_record_key_is_the_same_for_every_attempt_of_a_reply():
    assert bluesky.tid(1732957200000000, "r1") == bluesky.tid(1732957200000000, "r1")
    assert bluesky.tid(1732957200000000, "r1") != bluesky.tid(1732957200000001, "r1")
    assert bluesky.tid(1732957200000000, "r1")[0] in "234567ab"
