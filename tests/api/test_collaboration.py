"""Collaboration over HTTP: comments and notes with @mentions, links between cases, merging two
cases, and collision (who is writing on a task, and the 409 for a second completion)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from engine.db import unit_of_work, utcnow
from engine.tasks.models import Task
from tests.helpers import auth, drain, signal_body


def _open(client, keys, **overrides: Any) -> dict:  # type: ignore[no-untyped-def]
    """Posts a complaint and runs the worker; answers with the processed signal."""
    r = client.post("/api/v1/signals", json=signal_body(**overrides), headers=auth(keys["integration"]))
    assert r.status_code == 202, r.text
    drain()
    sig = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    assert sig["status"] == "processed" and sig["case_id"], sig
    return sig


def _case(client, keys, case_id: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"]))
    assert r.status_code == 200, r.text
    return r.json()


def _timeline(client, keys, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]


def _task(client, keys, case_id: str, name: str) -> dict:  # type: ignore[no-untyped-def]
    [task] = [t for t in _case(client, keys, case_id)["tasks"] if t["name"] == name]
    return task


def _complete(client, key: str, task_id: str, data: dict):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=auth(key))


def _to_respond(client, keys, case_id: str) -> dict:  # type: ignore[no-untyped-def]
    triage = _task(client, keys, case_id, "triage")
    assert _complete(client, keys["csr"], triage["id"], {"action": "respond"}).status_code == 200
    return _task(client, keys, case_id, "respond")


def _comment(client, key: str, case_id: str, body: str, internal: bool = False):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/cases/{case_id}/comments", json={"body": body, "internal": internal}, headers=auth(key)
    )


def _mentions(client, key: str, **params: Any):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/mentions", params=params, headers=auth(key))


# --- comments, notes and mentions ---------------------------------------------------------


def test_a_mentioned_user_finds_the_note_at_mentions_me(client, keys):
    case_id = _open(client, keys)["case_id"]
    body = "@csr2 can you check the courier? cc @Supervisor. Not @acme, not bob@csr2, and @ghost"
    r = _comment(client, keys["csr"], case_id, body, internal=True)
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["mentions"] == ["csr2", "supervisor"] and note["internal"] is True
    assert note["case_id"] == case_id and note["actor"] == "csr"

    mine = _mentions(client, keys["csr2"], user="me")
    assert mine.status_code == 200, mine.text
    [item] = mine.json()["items"]
    assert (item["case_id"], item["comment_id"], item["author"]) == (case_id, note["id"], "csr")
    assert item["excerpt"].startswith("@csr2 can you check") and item["read"] is False
    assert item["internal"] is True and item["user"] == "csr2"
    assert _mentions(client, keys["csr"], user="me").json()["items"] == []  # the author is not told

    commented = [e for e in _timeline(client, keys, case_id) if e["type"] == "case.commented"]
    assert commented[-1]["actor"] == "csr"
    assert commented[-1]["data"]["internal"] is True and commented[-1]["data"]["mentions"] == [
        "csr2",
        "supervisor",
    ]
    notes = client.get(
        f"/api/v1/cases/{case_id}/comments", params={"internal": "true"}, headers=auth(keys["csr"])
    )
    assert [c["id"] for c in notes.json()["items"]] == [note["id"]]
    public = client.get(
        f"/api/v1/cases/{case_id}/comments", params={"internal": "false"}, headers=auth(keys["csr"])
    )
    assert public.json()["items"] == []
    replies = client.get("/api/v1/replies", params={"case_id": case_id}, headers=auth(keys["csr"])).json()
    assert replies["items"] == []  # a comment never goes to the customer


def test_reading_another_holders_mentions_is_for_supervisors_and_read_is_their_own(client, keys):
    case_id = _open(client, keys)["case_id"]
    _comment(client, keys["csr"], case_id, "@csr2 please look")
    assert _mentions(client, keys["csr"], user="csr2").status_code == 403
    theirs = _mentions(client, keys["supervisor"], user="csr2")
    assert theirs.status_code == 200 and len(theirs.json()["items"]) == 1
    assert _mentions(client, keys["supervisor"], user="ghost").status_code == 404
    mention_id = theirs.json()["items"][0]["id"]
    assert (
        client.post(f"/api/v1/mentions/{mention_id}/read", headers=auth(keys["supervisor"])).status_code
        == 403
    )
    r = client.post(f"/api/v1/mentions/{mention_id}/read", headers=auth(keys["csr2"]))
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    assert _mentions(client, keys["csr2"], unread="true").json()["items"] == []
    assert client.post("/api/v1/mentions/nope/read", headers=auth(keys["csr2"])).status_code == 404


def test_mentions_are_paged_newest_first(client, keys):
    case_id = _open(client, keys)["case_id"]
    ids = [_comment(client, keys["csr"], case_id, f"@csr2 number {n}").json()["id"] for n in range(3)]
    first = _mentions(client, keys["csr2"], limit=2).json()
    assert [m["comment_id"] for m in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    rest = _mentions(client, keys["csr2"], limit=2, cursor=first["next_cursor"]).json()
    assert [m["comment_id"] for m in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert _mentions(client, keys["csr2"], cursor="garbage").status_code == 400


def test_hostile_comments_are_refused_with_a_code_and_nothing_written(client, keys):
    case_id = _open(client, keys)["case_id"]
    csr = keys["csr"]
    too_long = _comment(client, csr, case_id, "x" * 20_001)
    assert too_long.status_code == 422 and too_long.json()["error"] == "ValidationFailed"
    huge = client.post(
        f"/api/v1/cases/{case_id}/comments",
        content=b'{"body": "' + b"y" * (2 * 1024 * 1024) + b'"}',
        headers={**auth(csr), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["error"] == "PayloadTooLarge"
    blank = _comment(client, csr, case_id, "   \n ")
    assert blank.status_code == 422 and blank.json()["error"] == "InvalidInput"
    bad_flag = client.post(
        f"/api/v1/cases/{case_id}/comments", json={"body": "hi", "internal": [1]}, headers=auth(csr)
    )
    assert bad_flag.status_code == 422
    assert _comment(client, csr, "no-such-case", "hello").status_code == 404
    many = " ".join(f"@p{n}" for n in range(51))
    from engine.auth import service as auth_service

    with unit_of_work() as s:
        for n in range(51):
            auth_service.create_key(s, f"p{n}", "csr")
    crowd = _comment(client, csr, case_id, many)
    assert crowd.status_code == 422 and crowd.json()["error"] == "InvalidInput"
    listed = client.get(f"/api/v1/cases/{case_id}/comments", headers=auth(csr)).json()["items"]
    assert listed == []


# --- links --------------------------------------------------------------------------------


def _link(client, keys, case_id: str, link_type: str, other: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/cases/{case_id}/links",
        json={"type": link_type, "case_id": other},
        headers=auth(keys["csr"]),
    )


def _links(client, keys, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/cases/{case_id}/links", headers=auth(keys["csr"])).json()["items"]


def test_links_read_both_ways_and_refuse_self_duplicates_and_cycles(client, keys):
    a, b, c, d = (_open(client, keys)["case_id"] for _ in range(4))
    r = _link(client, keys, a, "parent", b)
    assert r.status_code == 201, r.text
    assert (r.json()["type"], r.json()["case_id"]) == ("parent", b)
    assert [(x["type"], x["case_id"]) for x in _links(client, keys, b)] == [("child", a)]
    assert _case(client, keys, a)["parent_id"] == b
    for case_id, other, seen in ((a, b, "parent"), (b, a, "child")):
        linked = [e for e in _timeline(client, keys, case_id) if e["type"] == "case.linked"]
        assert [(e["data"]["type"], e["data"]["case_id"], e["actor"]) for e in linked] == [
            (seen, other, "csr")
        ]

    again = _link(client, keys, a, "related", b)
    assert again.status_code == 409 and again.json()["error"] == "LinkExists"
    assert _link(client, keys, b, "child", a).status_code == 409
    self_link = _link(client, keys, a, "related", a)
    assert self_link.status_code == 422 and self_link.json()["error"] == "InvalidInput"
    assert _link(client, keys, a, "related", "no-such-case").status_code == 404
    assert _link(client, keys, "no-such-case", "related", a).status_code == 404
    bad = _link(client, keys, a, "sibling", c)
    assert bad.status_code == 422 and bad.json()["error"] == "ValidationFailed"

    assert _link(client, keys, b, "parent", c).status_code == 201  # a -> b -> c
    cycle = _link(client, keys, c, "parent", a)
    assert cycle.status_code == 422 and cycle.json()["error"] == "LinkCycle"
    second_parent = _link(client, keys, c, "child", a)  # a has its parent already
    assert second_parent.status_code == 409 and second_parent.json()["error"] == "HasParent"
    dup = _link(client, keys, d, "duplicate_of", a)
    assert dup.status_code == 201
    assert ("duplicated_by", d) in [(x["type"], x["case_id"]) for x in _links(client, keys, a)]


def test_a_link_is_deleted_from_either_side_with_events_on_both(client, keys):
    a, b = (_open(client, keys)["case_id"] for _ in range(2))
    link_id = _link(client, keys, a, "parent", b).json()["id"]
    r = client.delete(f"/api/v1/cases/{b}/links/{link_id}", headers=auth(keys["csr"]))
    assert r.status_code == 204
    assert _links(client, keys, a) == [] and _case(client, keys, a)["parent_id"] is None
    for case_id in (a, b):
        assert [e["type"] for e in _timeline(client, keys, case_id)].count("case.unlinked") == 1
    assert client.delete(f"/api/v1/cases/{b}/links/{link_id}", headers=auth(keys["csr"])).status_code == 404
    assert _link(client, keys, b, "child", a).status_code == 201  # linked again, another way


# --- merging --------------------------------------------------------------------------------


def _merge(client, key: str, case_id: str, into: str):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/cases/{case_id}:merge", json={"into": into}, headers=auth(key))


def test_merging_moves_signals_and_comments_ends_the_process_and_closes_with_a_pointer(client, keys):
    source_sig = _open(client, keys, external_id="m-src")
    source, target = source_sig["case_id"], _open(client, keys)["case_id"]
    respond = _to_respond(client, keys, source)
    assert (
        _complete(client, keys["csr"], respond["id"], {"reply": "On it", "then": "wait"}).status_code == 200
    )
    assert _case(client, keys, source)["status"] == "waiting"
    sup = auth(keys["supervisor"])
    pending = client.get(
        "/api/v1/timers", params={"case_id": source, "status": "pending"}, headers=sup
    ).json()
    assert pending["items"], "the waiting case has its quiet-period timer and SLA timers"
    note = _comment(client, keys["csr"], source, "@csr2 same customer as the other one", internal=True).json()

    r = _merge(client, keys["csr"], source, target)
    assert r.status_code == 200, r.text
    survivor = r.json()
    assert survivor["id"] == target and source_sig["id"] in [s["id"] for s in survivor["signals"]]

    merged = _case(client, keys, source)
    assert merged["status"] == "closed" and merged["merged_into"] == target
    assert merged["resolution"] == {"code": "merged", "into": target}
    assert merged["tasks"] == [] and merged["process"]["status"] == "completed"
    assert merged["stage"]["name"] == "closed" and merged["signals"] == []
    left = client.get("/api/v1/timers", params={"case_id": source, "status": "pending"}, headers=sup).json()
    assert left["items"] == []

    comments = client.get(f"/api/v1/cases/{target}/comments", headers=auth(keys["csr"])).json()["items"]
    assert [(c["id"], c["merged_from"], c["case_id"]) for c in comments] == [(note["id"], source, target)]
    assert [m["case_id"] for m in _mentions(client, keys["csr2"]).json()["items"]] == [target]

    timeline = _timeline(client, keys, target)
    merged_events = [e for e in timeline if e["type"] == "case.merged"]
    assert {e["case_id"] for e in merged_events} == {source, target}
    assert merged_events[-1]["data"]["from"] == source and merged_events[-1]["data"]["signals"] == [
        source_sig["id"]
    ]
    assert {e["case_id"] for e in timeline if e["type"] == "case.opened"} == {source, target}
    source_types = [e["type"] for e in _timeline(client, keys, source)]
    assert "case.closed" in source_types and "case.merged" in source_types

    reply = _open(client, keys, author=source_sig["author"], in_reply_to="m-src", text="still nothing here")
    assert reply["case_id"] == target  # the conversation goes on in the surviving case
    attached = [e for e in _timeline(client, keys, target) if e["type"] == "signal.attached"]
    assert attached[-1]["data"]["signal_id"] == reply["id"] and attached[-1]["case_id"] == target
    assert _case(client, keys, source)["status"] == "closed"


def test_a_mention_by_the_merged_cases_customer_on_its_topic_joins_the_surviving_case(client, keys):
    first = _open(client, keys)
    source, target = first["case_id"], _open(client, keys)["case_id"]
    assert _merge(client, keys["csr"], source, target).status_code == 200
    again = _open(client, keys, author=first["author"], text="@acme where is my parcel, order A12345 is late")
    assert again["enrichment"]["topics"][:1] == first["enrichment"]["topics"][:1]
    assert again["case_id"] == target


def test_merging_is_refused_into_itself_a_closed_case_a_merged_case_and_held_cases(client, keys):
    a, b, c = (_open(client, keys)["case_id"] for _ in range(3))
    itself = _merge(client, keys["csr"], a, a)
    assert itself.status_code == 422 and itself.json()["error"] == "InvalidInput"
    assert _merge(client, keys["csr"], a, "no-such-case").status_code == 404
    assert _merge(client, keys["csr"], "no-such-case", a).status_code == 404
    assert _merge(client, keys["csr"], a, b).status_code == 200
    twice = _merge(client, keys["csr"], a, c)
    assert twice.status_code == 409 and twice.json()["error"] == "CannotMerge" and b in twice.json()["detail"]
    into_merged = _merge(client, keys["csr"], c, a)
    assert into_merged.status_code == 409 and into_merged.json()["error"] == "CannotMerge"
    assert client.post(f"/api/v1/cases/{c}/claim", headers=auth(keys["csr2"])).status_code == 200
    held = _merge(client, keys["csr"], c, b)
    assert held.status_code == 409 and held.json()["error"] == "CaseHeld" and "csr2" in held.json()["detail"]
    assert _merge(client, keys["supervisor"], c, b).status_code == 200


def test_merging_a_merge_target_repoints_what_was_merged_into_it(client, keys):
    a, b, c = (_open(client, keys)["case_id"] for _ in range(3))
    assert _merge(client, keys["csr"], a, b).status_code == 200
    assert _merge(client, keys["csr"], b, c).status_code == 200
    assert _case(client, keys, a)["merged_into"] == c and _case(client, keys, b)["merged_into"] == c
    assert {e["case_id"] for e in _timeline(client, keys, c) if e["type"] == "case.opened"} == {a, b, c}


def test_a_merge_that_fails_half_way_leaves_nothing_written(client, keys, monkeypatch):
    from engine.cases import merge

    sig = _open(client, keys)
    source, target = sig["case_id"], _open(client, keys)["case_id"]
    _comment(client, keys["csr"], source, "a note before the merge")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(merge, "_move", broken)  # after the process was ended and the case closed
    assert _merge(client, keys["csr"], source, target).status_code == 500
    case = _case(client, keys, source)
    assert case["status"] == "open" and case["merged_into"] is None and case["resolution"] is None
    assert [t["name"] for t in case["tasks"]] == ["triage"] and case["process"]["status"] == "running"
    assert [s["id"] for s in case["signals"]] == [sig["id"]]
    assert "case.merged" not in [e["type"] for e in _timeline(client, keys, source)]
    comments = client.get(f"/api/v1/cases/{source}/comments", headers=auth(keys["csr"])).json()["items"]
    assert [c["case_id"] for c in comments] == [source]


# --- collision ------------------------------------------------------------------------------


def _write(client, key: str, task_id: str):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/tasks/{task_id}/writing", headers=auth(key))


def test_a_second_respond_completion_while_another_writes_is_a_409_naming_the_writer(client, keys):
    case_id = _open(client, keys)["case_id"]
    respond = _to_respond(client, keys, case_id)
    r = _write(client, keys["csr"], respond["id"])
    assert r.status_code == 200, r.text
    lease = r.json()
    assert (lease["by"], lease["task_id"], lease["case_id"]) == ("csr", respond["id"], case_id)

    seen = client.get(f"/api/v1/tasks/{respond['id']}", headers=auth(keys["csr2"])).json()["writing"]
    assert seen["by"] == "csr" and seen["since"] == lease["since"]
    assert _task(client, keys, case_id, "respond")["writing"]["by"] == "csr"

    other = _write(client, keys["csr2"], respond["id"])
    assert other.status_code == 409 and other.json()["error"] == "TaskBeingWritten"
    assert "csr " in other.json()["detail"]
    for key in (keys["csr2"], keys["supervisor"]):
        second = _complete(client, key, respond["id"], {"reply": "Hello from me too"})
        assert second.status_code == 409, second.text
        assert second.json()["error"] == "TaskBeingWritten" and second.json()["detail"].startswith(
            "csr is writing"
        )
    assert (
        client.get("/api/v1/replies", params={"case_id": case_id}, headers=auth(keys["csr"])).json()["items"]
        == []
    )

    renewed = _write(client, keys["csr"], respond["id"]).json()
    assert renewed["since"] == lease["since"] and renewed["expires_at"] >= lease["expires_at"]
    done = _complete(client, keys["csr"], respond["id"], {"reply": "Sorry, on it"})
    assert done.status_code == 200, done.text
    replies = client.get("/api/v1/replies", params={"case_id": case_id}, headers=auth(keys["csr"])).json()
    assert [x["actor"] for x in replies["items"]] == ["csr"]
    started = [e for e in _timeline(client, keys, case_id) if e["type"] == "task.writing_started"]
    assert [(e["actor"], e["data"]["task_id"]) for e in started] == [("csr", respond["id"])]


def test_a_lapsed_lease_blocks_nobody(client, keys):
    case_id = _open(client, keys)["case_id"]
    respond = _to_respond(client, keys, case_id)
    assert _write(client, keys["csr"], respond["id"]).status_code == 200
    with unit_of_work() as s:  # the writer's browser closed: no renewal came
        s.execute(
            update(Task).where(Task.id == respond["id"]).values(writing_until=utcnow() - timedelta(seconds=1))
        )
    assert client.get(f"/api/v1/tasks/{respond['id']}", headers=auth(keys["csr2"])).json()["writing"] is None
    assert _write(client, keys["csr2"], respond["id"]).json()["by"] == "csr2"
    assert _complete(client, keys["csr2"], respond["id"], {"reply": "Taking over"}).status_code == 200


def test_the_lease_lasts_the_configured_seconds(client, keys, monkeypatch):
    from engine.config import get_settings

    monkeypatch.setenv("SIFT_WRITING_LEASE_SECONDS", "30")
    get_settings.cache_clear()
    try:
        respond = _to_respond(client, keys, _open(client, keys)["case_id"])
        lease = _write(client, keys["csr"], respond["id"]).json()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    from datetime import datetime

    span = datetime.fromisoformat(lease["expires_at"]) - datetime.fromisoformat(lease["since"])
    assert timedelta(seconds=29) <= span <= timedelta(seconds=31)


def test_stopping_is_for_the_writer_or_a_supervisor(client, keys):
    case_id = _open(client, keys)["case_id"]
    respond = _to_respond(client, keys, case_id)
    _write(client, keys["csr"], respond["id"])
    refused = client.delete(f"/api/v1/tasks/{respond['id']}/writing", headers=auth(keys["csr2"]))
    assert refused.status_code == 409 and refused.json()["error"] == "TaskBeingWritten"
    cleared = client.delete(f"/api/v1/tasks/{respond['id']}/writing", headers=auth(keys["supervisor"]))
    assert cleared.status_code == 204
    stopped = [e for e in _timeline(client, keys, case_id) if e["type"] == "task.writing_stopped"]
    assert [(e["actor"], e["data"]["writer"]) for e in stopped] == [("supervisor", "csr")]
    assert _write(client, keys["csr2"], respond["id"]).status_code == 200
    assert (
        client.delete(f"/api/v1/tasks/{respond['id']}/writing", headers=auth(keys["csr2"])).status_code == 204
    )


def test_a_csr_cannot_write_on_a_case_someone_else_holds(client, keys):
    case_id = _open(client, keys)["case_id"]
    respond = _to_respond(client, keys, case_id)
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=auth(keys["csr2"])).status_code == 200
    r = _write(client, keys["csr"], respond["id"])
    assert r.status_code == 409 and r.json()["error"] == "TaskHeld" and "csr2" in r.json()["detail"]
    assert _write(client, keys["csr"], "no-such-task").status_code == 404


def test_a_resolved_case_merges_too_and_then_never_reopens(client, keys):
    first = _open(client, keys, external_id="m-resolved")
    source, target = first["case_id"], _open(client, keys)["case_id"]
    triage = _task(client, keys, source, "triage")
    dismissed = _complete(
        client, keys["csr"], triage["id"], {"action": "dismiss", "dismiss_as": "noise", "reason": "dup"}
    )
    assert dismissed.json()["status"] == "resolved"
    assert _merge(client, keys["csr"], source, target).status_code == 200
    merged = _case(client, keys, source)
    assert (merged["status"], merged["resolution"]["code"], merged["merged_into"]) == (
        "closed",
        "merged",
        target,
    )
    reply = _open(client, keys, author=first["author"], in_reply_to="m-resolved", text="hello? anyone?")
    assert reply["case_id"] == target and _case(client, keys, source)["status"] == "closed"
