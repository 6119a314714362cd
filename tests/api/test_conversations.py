"""Conversations: replies and same-topic mentions join the open case, replies before their parent,
duplicate bursts, the reopen window, suppression rules, the full reactive process and its stages."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update

from engine.cases.models import Case
from engine.db import unit_of_work, utcnow
from engine.signals.models import Signal
from engine.timers import service as timers
from tests.helpers import auth, count, drain, put_default_policy, signal_body

COMPLAINT = "@acme my order A12345 never arrived, 3 weeks now 😡"


def _post(client, keys, **overrides) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/signals", json=signal_body(**overrides), headers=auth(keys["integration"]))
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _signal(client, keys, sid: str) -> dict:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/signals/{sid}", headers=auth(keys["csr"])).json()


def _case(client, keys, case_id: str) -> dict:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"])).json()


def _timeline(client, keys, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]


def _complete(client, keys, case_id: str, name: str, data: dict) -> dict:  # type: ignore[no-untyped-def]
    case = _case(client, keys, case_id)
    [task] = [t for t in case["tasks"] if t["name"] == name]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=auth(keys["csr"]))
    assert r.status_code == 200, r.text
    return r.json()


def _opened(client, keys, author: dict, external_id: str, text: str = COMPLAINT) -> dict:  # type: ignore[no-untyped-def]
    sid = _post(client, keys, author=author, external_id=external_id, text=text)
    drain()
    sig = _signal(client, keys, sid)
    assert sig["status"] == "processed" and sig["case_id"], sig
    return sig


def _to_waiting(client, keys, case_id: str) -> dict:  # type: ignore[no-untyped-def]
    _complete(client, keys, case_id, "triage", {"action": "respond"})
    case = _complete(client, keys, case_id, "respond", {"reply": "Sorry! Looking into it.", "then": "wait"})
    assert case["status"] == "waiting" and case["tasks"] == []
    assert case["stage"]["name"] == "wait_for_customer" and case["sla"]["paused"] is True
    return case


def test_the_rule_that_fired_is_on_the_signal_and_the_case_timeline(client, keys):
    sig = _opened(client, keys, {"handle": "@rule"}, "r-1")
    assert sig["routing"]["rule_id"] == "rule_complaint"
    opened = [e for e in _timeline(client, keys, sig["case_id"]) if e["type"] == "case.opened"]
    assert opened[0]["data"]["rule"] == sig["routing"]["rule"]


def test_a_non_english_complaint_is_routed_by_its_language(client, keys):
    sig = _opened(
        client,
        keys,
        {"handle": "@hans"},
        "de-1",
        "@acme meine Bestellung ist nie angekommen, seit drei Wochen warte ich",
    )
    assert sig["enrichment"]["language"] == "de"
    assert sig["routing"]["rule_id"] == "rule_other_language"
    assert _case(client, keys, sig["case_id"])["queue"] == "multilingual"


def test_a_conversation_of_replies_stays_in_one_case_and_drives_its_process(client, keys):
    author = {"handle": "@conv"}
    first = _opened(client, keys, author, "c-0")
    case_id = first["case_id"]
    _to_waiting(client, keys, case_id)
    parent = "c-0"
    for n in range(1, 4):
        sid = _post(
            client, keys, author=author, external_id=f"c-{n}", in_reply_to=parent, text=f"still nothing #{n}"
        )
        drain()
        sig = _signal(client, keys, sid)
        assert (sig["status"], sig["case_id"]) == ("processed", case_id), sig
        case = _case(client, keys, case_id)
        assert case["status"] == "open" and [t["name"] for t in case["tasks"]] == ["respond"]
        assert case["sla"]["paused"] is False and case["stage"]["name"] == "respond"
        case = _complete(client, keys, case_id, "respond", {"reply": f"answer {n}", "then": "wait"})
        assert case["status"] == "waiting"
        parent = f"c-{n}"
    assert count(Case) == 1
    attached = [e for e in _timeline(client, keys, case_id) if e["type"] == "signal.attached"]
    assert [e["data"].get("via") for e in attached] == [None, "reply", "reply", "reply"]
    assert all(e["data"]["resumed_process"] for e in attached[1:])
    stages = [e["data"]["to"] for e in _timeline(client, keys, case_id) if e["type"] == "case.stage_changed"]
    assert stages[:4] == ["triage", "respond", "wait_for_customer", "respond"]


def test_a_new_mention_on_the_same_topic_joins_the_open_case_and_another_topic_opens_one(client, keys):
    author = {"handle": "@topic"}
    first = _opened(client, keys, author, "t-0")
    again = _opened(client, keys, author, "t-1", "@acme where is my order A12345?? still not delivered")
    assert again["case_id"] == first["case_id"]
    attached = [e for e in _timeline(client, keys, first["case_id"]) if e["type"] == "signal.attached"]
    assert attached[-1]["data"]["via"] == "topic"
    assert attached[-1]["data"]["resumed_process"] is False  # at triage nothing waits for it
    other = _opened(client, keys, author, "t-2", "@acme I was charged twice on my invoice, refund me")
    if other["routing"]["action"] == "open_case" and other["enrichment"]["topics"][:1] != ["delivery"]:
        assert other["case_id"] != first["case_id"]


def test_a_reply_before_its_parent_is_buffered_then_joins_the_parents_case(client, keys):
    author = {"handle": "@early"}
    reply = _post(client, keys, author=author, external_id="e-1", in_reply_to="e-0", text="hello??? anyone")
    drain()
    assert _signal(client, keys, reply)["status"] == "buffered"
    assert count(Case) == 0
    parent = _opened(client, keys, author, "e-0")
    sig = _signal(client, keys, reply)
    assert (sig["status"], sig["case_id"]) == ("processed", parent["case_id"]), sig
    assert count(Case) == 1


def test_a_reply_and_its_parent_in_one_batch_make_one_case(client, keys):
    author = {"handle": "@batch"}
    body = {
        "signals": [
            signal_body(author=author, external_id="b-1", in_reply_to="b-0", text="any update?"),
            signal_body(author=author, external_id="b-0"),
        ]
    }
    r = client.post("/api/v1/signals:batch", json=body, headers=auth(keys["integration"]))
    reply_id, parent_id = (x["id"] for x in r.json()["results"])
    drain()
    parent, reply = _signal(client, keys, parent_id), _signal(client, keys, reply_id)
    assert parent["case_id"] and reply["case_id"] == parent["case_id"], (parent, reply)
    assert reply["status"] == "processed" and count(Case) == 1


def test_a_reply_whose_parent_is_a_duplicate_joins_the_first_copys_case_at_once(client, keys):
    """Found by bench/chaos.py: the parent came as a copy of an earlier post (same author, same
    text); the reply that waited for it stayed buffered for the whole buffer window."""
    author = {"handle": "@copied"}
    text = "@acme my order A55555 never arrived, 3 weeks now"
    reply_id = _post(
        client, keys, author=author, external_id="d-1", in_reply_to="d-0", text="hello? any news"
    )
    drain()
    first_id = _post(client, keys, author=author, external_id="d-copy", text=text)
    drain()
    parent_id = _post(client, keys, author=author, external_id="d-0", text=text)
    drain()
    first, parent, reply = (_signal(client, keys, i) for i in (first_id, parent_id, reply_id))
    assert parent["duplicate_of"] == first_id and parent["case_id"] == first["case_id"]
    assert (reply["status"], reply["case_id"]) == ("processed", first["case_id"]), reply
    assert count(Case) == 1


def test_a_reply_whose_parent_never_comes_is_handled_alone_after_the_buffer_window(
    client, keys, settings_env
):
    settings_env(reply_buffer_seconds=0.3)
    sid = _post(client, keys, author={"handle": "@orphan"}, external_id="o-1", in_reply_to="o-0")
    drain()
    assert _signal(client, keys, sid)["status"] == "buffered"
    time.sleep(0.4)
    drain()
    sig = _signal(client, keys, sid)
    assert sig["status"] == "processed" and sig["case_id"], sig
    assert "did not arrive" in sig["routing"]["note"]


def test_a_duplicate_burst_is_recorded_once_with_pointers(client, keys):
    author = {"handle": "@burst"}
    ids = [_post(client, keys, author=author, external_id=f"d-{n}") for n in range(5)]
    # the same text again, spaced and cased differently, is the same text
    ids.append(
        _post(client, keys, author=author, external_id="d-5", text=COMPLAINT.upper().replace(" ", "  "))
    )
    drain()
    sigs = [_signal(client, keys, i) for i in ids]
    originals = [s for s in sigs if s["duplicate_of"] is None]
    assert len(originals) == 1 and originals[0]["status"] == "processed"
    first = originals[0]
    for dup in sigs:
        if dup is first:
            continue
        assert dup["duplicate_of"] == first["id"], dup
        # processed into the first's case once it had one, ignored when it had none yet
        assert (dup["status"], dup["case_id"]) in (("processed", first["case_id"]), ("ignored", None)), dup
        assert dup["routing"]["rule_id"] == "duplicate" and first["id"] in dup["routing"]["rule"]
        assert dup["text"]  # stored, never lost
    assert count(Case) == 1 and count(Signal) == 6
    dups = [e for e in _timeline(client, keys, first["case_id"]) if e["type"] == "signal.duplicate"]
    assert 1 <= len(dups) <= 5  # those handled after the first had its case


def test_the_same_reply_to_two_different_posts_is_two_messages(client, keys):
    author = {"handle": "@yes"}
    first = _opened(client, keys, author, "y-0")
    _to_waiting(client, keys, first["case_id"])
    one = _post(client, keys, author=author, external_id="y-1", in_reply_to="y-0", text="yes")
    drain()
    _complete(client, keys, first["case_id"], "respond", {"reply": "Is it order A12345?", "then": "wait"})
    two = _post(client, keys, author=author, external_id="y-2", in_reply_to="y-1", text="yes")
    three = _post(client, keys, author=author, external_id="y-3", in_reply_to="y-1", text="YES")
    drain()
    a, b, c = (_signal(client, keys, i) for i in (one, two, three))
    assert a["duplicate_of"] is None and b["duplicate_of"] is None
    assert c["status"] == "processed" and c["duplicate_of"] == b["id"] and c["case_id"] == first["case_id"]
    assert a["case_id"] == b["case_id"] == first["case_id"]


def test_the_same_text_after_the_window_or_from_someone_else_is_not_a_duplicate(client, keys):
    first = _opened(client, keys, {"handle": "@late"}, "w-0")
    with unit_of_work() as s:
        s.execute(
            update(Signal).where(Signal.id == first["id"]).values(received_at=utcnow() - timedelta(hours=2))
        )
    later = _opened(client, keys, {"handle": "@late"}, "w-1")
    assert later["duplicate_of"] is None
    assert later["case_id"] == first["case_id"]  # not a duplicate: it joins the open case on the topic
    other = _opened(client, keys, {"handle": "@someone_else"}, "w-2")
    assert other["duplicate_of"] is None and other["case_id"] != first["case_id"]


def _resolve(client, keys, case_id: str) -> None:  # type: ignore[no-untyped-def]
    _complete(client, keys, case_id, "triage", {"action": "respond"})
    _complete(client, keys, case_id, "respond", {"reply": "Refund sent.", "then": "resolve"})
    case = _complete(client, keys, case_id, "resolve", {"resolution_code": "refunded"})
    assert case["status"] == "resolved" and case["stage"]["name"] == "resolved"


def test_a_mention_within_the_reopen_window_reopens_the_case(client, keys):
    author = {"handle": "@reopen"}
    first = _opened(client, keys, author, "ro-0")
    case_id = first["case_id"]
    _resolve(client, keys, case_id)
    again = _opened(
        client, keys, author, "ro-1", "@acme my order A12345 never arrived after all, still waiting 😡"
    )
    assert again["case_id"] == case_id
    case = _case(client, keys, case_id)
    assert case["status"] == "open" and case["resolution"] is None and case["resolved_at"] is None
    assert [t["name"] for t in case["tasks"]] == ["respond"]
    types = [e["type"] for e in _timeline(client, keys, case_id)]
    assert "case.reopened" in types and types.index("case.resolved") < types.index("case.reopened")
    assert count(Case) == 1


def test_a_reply_to_a_resolved_case_within_the_window_reopens_it(client, keys):
    author = {"handle": "@reopen2"}
    first = _opened(client, keys, author, "rr-0")
    _resolve(client, keys, first["case_id"])
    sid = _post(
        client,
        keys,
        author=author,
        external_id="rr-1",
        in_reply_to="rr-0",
        text="it broke again, not working",
    )
    drain()
    assert _signal(client, keys, sid)["case_id"] == first["case_id"]
    assert _case(client, keys, first["case_id"])["status"] == "open"


def test_a_mention_after_the_reopen_window_opens_a_new_case(client, keys, settings_env):
    settings_env(reopen_window_seconds=60)
    author = {"handle": "@toolate"}
    first = _opened(client, keys, author, "rl-0")
    _resolve(client, keys, first["case_id"])
    with unit_of_work() as s:
        s.execute(
            update(Case)
            .where(Case.id == first["case_id"])
            .values(resolved_at=utcnow() - timedelta(seconds=61))
        )
    again = _opened(
        client, keys, author, "rl-1", "@acme my order A12345 never arrived after all, still waiting 😡"
    )
    assert again["case_id"] != first["case_id"]
    assert _case(client, keys, first["case_id"])["status"] == "resolved"


def test_suppression_rules_ignore_matching_signals_naming_the_rule(client, keys):
    sup = auth(keys["supervisor"])
    soon = (utcnow() + timedelta(days=1)).isoformat()
    phrase = client.post(
        "/api/v1/suppressions",
        json={"kind": "phrase", "value": "Free Followers", "expires_at": soon, "reason": "spam wave"},
        headers=sup,
    )
    assert phrase.status_code == 201, phrase.text
    entity = client.post(
        "/api/v1/suppressions", json={"kind": "entity", "value": "@loud_bot", "expires_at": soon}, headers=sup
    ).json()
    muted = _post(
        client, keys, author={"handle": "@x1"}, text="get free   followers now, my order never arrived"
    )
    by_author = _post(client, keys, author={"handle": "@LOUD_BOT"})
    kept = _post(client, keys, author={"handle": "@x2"}, text="followers for free? my order never arrived")
    drain()
    m, a, k = (_signal(client, keys, i) for i in (muted, by_author, kept))
    assert m["status"] == "ignored" and m["routing"]["rule_id"] == f"suppression:{phrase.json()['id']}"
    assert "Free Followers" in m["routing"]["rule"] and "supervisor" in m["routing"]["rule"]
    assert a["status"] == "ignored" and a["routing"]["rule_id"] == f"suppression:{entity['id']}"
    assert k["status"] == "processed"
    listed = client.get("/api/v1/suppressions", headers=auth(keys["csr"])).json()["items"]
    assert {r["id"]: r["matched"] for r in listed} == {phrase.json()["id"]: 1, entity["id"]: 1}
    assert client.delete(f"/api/v1/suppressions/{entity['id']}", headers=sup).status_code == 204
    assert client.delete(f"/api/v1/suppressions/{entity['id']}", headers=sup).status_code == 404
    again = _post(client, keys, author={"handle": "@loud_bot"}, text="@acme my parcel is lost, order A99999")
    drain()
    assert _signal(client, keys, again)["status"] == "processed"


def test_suppression_rules_refuse_bad_input_and_expire(client, keys):
    sup = auth(keys["supervisor"])
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    bad = client.post(
        "/api/v1/suppressions", json={"kind": "phrase", "value": "x", "expires_at": past}, headers=sup
    )
    assert bad.status_code == 422 and bad.json()["error"] == "InvalidInput"
    blank = client.post(
        "/api/v1/suppressions",
        json={"kind": "phrase", "value": "   ", "expires_at": "2999-01-01T00:00:00Z"},
        headers=sup,
    )
    assert blank.status_code == 422 and blank.json()["error"] == "InvalidInput"
    kind = client.post(
        "/api/v1/suppressions",
        json={"kind": "regex", "value": ".*", "expires_at": "2999-01-01T00:00:00Z"},
        headers=sup,
    )
    assert kind.status_code == 422
    rule = client.post(
        "/api/v1/suppressions",
        json={
            "kind": "phrase",
            "value": "never arrived",
            "expires_at": (utcnow() + timedelta(seconds=1)).isoformat(),
        },
        headers=sup,
    ).json()
    time.sleep(1.1)
    sid = _post(client, keys)
    drain()
    assert _signal(client, keys, sid)["status"] == "processed"
    assert client.get("/api/v1/suppressions", headers=sup).json()["items"] == []
    expired = client.get("/api/v1/suppressions?include_expired=true", headers=sup).json()["items"]
    assert [r["id"] for r in expired] == [rule["id"]]


def test_the_quiet_period_resolves_a_waiting_case_itself(client, keys, settings_env):
    settings_env(conversation_quiet_period="PT1S")
    sig = _opened(client, keys, {"handle": "@quiet"}, "q-0")
    _to_waiting(client, keys, sig["case_id"])
    time.sleep(1.2)
    timers.run_due(owner="test")
    case = _case(client, keys, sig["case_id"])
    assert case["status"] == "resolved" and case["resolution"]["code"] == "no_reply"


def test_the_case_list_filters_on_stage(client, keys):
    at_triage = _opened(client, keys, {"handle": "@s1"}, "s-1")
    waiting = _opened(client, keys, {"handle": "@s2"}, "s-2")
    _to_waiting(client, keys, waiting["case_id"])
    csr = auth(keys["csr"])
    triage = client.get("/api/v1/cases?stage=triage", headers=csr).json()["items"]
    assert [c["id"] for c in triage] == [at_triage["case_id"]]
    assert triage[0]["stage"]["title"] == "Triage" and triage[0]["stage"]["since"]
    wait = client.get("/api/v1/cases?stage=wait_for_customer&status=waiting", headers=csr).json()["items"]
    assert [c["id"] for c in wait] == [waiting["case_id"]]
    assert wait[0]["stage"]["title"] == "Wait for the customer"


def test_a_300_message_conversation_stays_one_small_case(client, keys):
    """300 customer messages, each answered: SpiffWorkflow stalls past ~1,000 task levels on an
    unbounded loop; the conversation loop keeps the tree (and the state) the size of one turn."""
    put_default_policy({"first_response": "P1D", "next_response": "P1D", "resolution": "P30D"})
    from engine.auth.service import Principal
    from engine.cases import flows
    from engine.processes.models import ProcessInstanceRecord
    from engine.tasks.models import Task

    csr = Principal(name="csr", role="csr")
    author = {"handle": "@longtalk"}
    first = _opened(client, keys, author, "l-0")
    case_id = first["case_id"]
    _complete(client, keys, case_id, "triage", {"action": "respond"})

    def respond(text: str) -> None:
        with unit_of_work() as s:
            task = s.scalar(
                select(Task).where(Task.case_id == case_id, Task.name == "respond", Task.status == "open")
            )
            assert task is not None
            flows.complete_task(s, task.id, {"reply": text, "then": "wait"}, csr)

    respond("reply 0")
    sizes = []
    for n in range(1, 301):
        _post(
            client, keys, author=author, external_id=f"l-{n}", in_reply_to=f"l-{n - 1}", text=f"message {n}"
        )
        drain()
        respond(f"reply {n}")
        if n % 100 == 0:
            with unit_of_work() as s:
                record = s.get(ProcessInstanceRecord, s.get(Case, case_id).process_instance_id)
                sizes.append(len(str(record.state)))
    case = _case(client, keys, case_id)
    assert case["status"] == "waiting" and case["stage"]["name"] == "wait_for_customer"
    with unit_of_work() as s:
        rows = s.execute(select(Signal.status, Signal.case_id).where(Signal.source == "twitter")).all()
    assert len(rows) == 301 and set(rows) == {("processed", case_id)}
    assert count(Case) == 1 and count(ProcessInstanceRecord) == 1
    with unit_of_work() as s:
        replies = s.scalar(
            select(Task.id)
            .where(Task.case_id == case_id, Task.name == "respond", Task.status == "completed")
            .limit(1)
        )
        assert replies is not None
        done = len(list(s.scalars(select(Task.id).where(Task.case_id == case_id, Task.name == "respond"))))
    assert done == 301
    # the state grows by the loop's merged-turn ids only (about 40 bytes a turn), not a turn's tasks
    assert sizes[-1] - sizes[0] < 200 * 100, sizes
    # and the 301st turn still resolves the case
    sid = _post(
        client, keys, author=author, external_id="l-301", in_reply_to="l-300", text="thanks, all good"
    )
    drain()
    assert _signal(client, keys, sid)["case_id"] == case_id
    _complete(client, keys, case_id, "respond", {"reply": "Glad to help!", "then": "resolve"})
    case = _complete(client, keys, case_id, "resolve", {"resolution_code": "answered"})
    assert case["status"] == "resolved" and case["resolution"]["code"] == "answered"


def test_the_signal_list_finds_buffered_replies(client, keys):
    reply = _post(
        client, keys, author={"handle": "@listed"}, external_id="b-1", in_reply_to="b-0", text="hello??"
    )
    drain()
    listed = client.get("/api/v1/signals", params={"status": "buffered"}, headers=auth(keys["csr"])).json()
    assert [s["id"] for s in listed["items"]] == [reply]


def test_a_task_the_customer_cancels_is_on_the_outbox_as_its_catalogue_says(client, keys):
    """task.cancelled is a delivered type: a webhook subscriber hears of it (it was timeline only)."""
    from engine.events.models import OutboxEvent
    from engine.events.types import delivered

    author = {"handle": "@cancel"}
    first = _opened(client, keys, author, "x-0")
    case_id = first["case_id"]
    _complete(client, keys, case_id, "triage", {"action": "respond"})
    _complete(client, keys, case_id, "respond", {"reply": "Done.", "then": "resolve"})
    _post(client, keys, author=author, external_id="x-1", in_reply_to="x-0", text="no it is still broken!!")
    drain()
    cancelled = [e for e in _timeline(client, keys, case_id) if e["type"] == "task.cancelled"]
    assert cancelled and delivered("task.cancelled")
    with unit_of_work() as s:
        outbox = set(s.scalars(select(OutboxEvent.id).where(OutboxEvent.type == "task.cancelled")))
    assert {e["id"] for e in cancelled} <= outbox


def _held_and_resolved(client, keys, handle: str) -> str:  # type: ignore[no-untyped-def]
    case_id = _opened(client, keys, {"handle": handle}, f"{handle}-0")["case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/claim", headers=auth(keys["csr"]))
    assert r.status_code == 200, r.text
    _resolve(client, keys, case_id)
    assert _case(client, keys, case_id)["assignee"] == "csr"
    return case_id


def _reopen(client, keys, handle: str) -> dict:  # type: ignore[no-untyped-def]
    """The customer writes again; read back (as a supervisor: the CSR's key may be revoked)."""
    text = "@acme my order A12345 never arrived after all, still waiting 😡"
    sid = _post(client, keys, author={"handle": handle}, external_id=f"{handle}-1", text=text)
    drain()
    sig = client.get(f"/api/v1/signals/{sid}", headers=auth(keys["supervisor"])).json()
    assert sig["status"] == "processed", sig
    return client.get(f"/api/v1/cases/{sig['case_id']}", headers=auth(keys["supervisor"])).json()


def _released(client, keys, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["supervisor"])).json()
    return [e for e in timeline["items"] if e["type"] == "case.released"]


def test_a_reopened_case_goes_back_to_its_holder_who_can_take_it(client, keys):
    case_id = _held_and_resolved(client, keys, "@back")
    case = _reopen(client, keys, "@back")
    assert case["id"] == case_id and case["status"] == "open" and case["assignee"] == "csr"
    assert [t["assignee"] for t in case["tasks"]] == ["csr"]
    assert _released(client, keys, case_id) == []


def test_a_reopened_case_whose_holder_is_away_is_released_with_the_reason(client, keys):
    case_id = _held_and_resolved(client, keys, "@away")
    assert (
        client.patch("/api/v1/agents/me", json={"away": True}, headers=auth(keys["csr"])).status_code == 200
    )
    case = _reopen(client, keys, "@away")
    assert case["status"] == "open" and case["assignee"] is None
    assert [t["assignee"] for t in case["tasks"]] == [None]
    [event] = _released(client, keys, case_id)
    assert event["actor"] == "system" and event["data"] == {"previous": "csr", "reason": "away"}


def test_a_reopened_case_is_not_pushed_over_its_holders_capacity(client, keys):
    case_id = _held_and_resolved(client, keys, "@full")
    other = _opened(
        client, keys, {"handle": "@other"}, "other-0", "@acme the charger arrived broken, order A777"
    )
    assert (
        client.post(f"/api/v1/cases/{other['case_id']}/claim", headers=auth(keys["csr"])).status_code == 200
    )
    r = client.patch("/api/v1/agents/csr", json={"capacity": 1}, headers=auth(keys["supervisor"]))
    assert r.status_code == 200, r.text
    case = _reopen(client, keys, "@full")
    assert case["assignee"] is None
    [event] = _released(client, keys, case_id)
    assert event["data"] == {"previous": "csr", "reason": "at_capacity"}


def test_a_reopened_case_of_a_revoked_key_is_released(client, keys):
    case_id = _held_and_resolved(client, keys, "@gone")
    listed = client.get("/api/v1/keys", headers=auth(keys["admin"])).json()["items"]
    [csr_id] = [k["id"] for k in listed if k["name"] == "csr"]
    assert client.post(f"/api/v1/keys/{csr_id}/revoke", headers=auth(keys["admin"])).status_code == 200
    case = _reopen(client, keys, "@gone")
    assert case["assignee"] is None
    [event] = _released(client, keys, case_id)
    assert event["data"] == {"previous": "csr", "reason": "revoked"}
