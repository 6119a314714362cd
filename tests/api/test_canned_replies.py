"""Canned replies: templates with variables managed through the API, checked on save, rendered
per case (preview, respond, bulk replies) by plain substitution, and named on the timeline."""

from __future__ import annotations

from typing import Any

import pytest

from engine.delivery.models import OutboundReply
from tests.delivery.receiver import receiver
from tests.helpers import auth, count, deliver, drain, signal_body

WITH_ORDER = "@acme my order A12345 never arrived, 3 weeks now 😡"
WITHOUT_ORDER = "@acme my package never arrived, 3 weeks now 😡 worst delivery ever"
BODY = "Hi {{customer.name}}, sorry about order {{ order_id }}. Your case is {{case.id}}. {{agent.name}}"


def _make(client, keys, name="Delay", body=BODY, **extra: Any) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/canned-replies", json={"name": name, "body": body, **extra}, headers=auth(keys["supervisor"])
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _case(client, keys, case_id: str) -> dict:  # type: ignore[no-untyped-def]
    return dict(client.get(f"/api/v1/cases/{case_id}", headers=auth(keys["csr"])).json())


def _task(client, keys, case_id: str, name: str) -> str:  # type: ignore[no-untyped-def]
    [task] = [t for t in _case(client, keys, case_id)["tasks"] if t["name"] == name]
    return str(task["id"])


def _at_respond(client, keys, text: str = WITH_ORDER, name: str = "Jane") -> str:  # type: ignore[no-untyped-def]
    """A case opened by a mention and triaged: it waits at respond. Returns its id."""
    body = signal_body(text=text)
    body["author"]["name"] = name
    r = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
    drain()
    case_id = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()["case_id"]
    assert case_id, "the mention opened no case"
    triage = _task(client, keys, case_id, "triage")
    done = client.post(
        f"/api/v1/tasks/{triage}/complete", json={"data": {"action": "respond"}}, headers=auth(keys["csr"])
    )
    assert done.status_code == 200, done.text
    return str(case_id)


def _replies(client, keys, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(
        client.get("/api/v1/replies", params={"case_id": case_id}, headers=auth(keys["csr"])).json()["items"]
    )


def _timeline(client, keys, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"])


def test_supervisors_manage_canned_replies_and_csrs_read_them(client, keys):
    made = _make(client, keys, tags=["delivery", "apology"], language="EN")
    assert made["variables"] == ["customer.name", "order_id", "case.id", "agent.name"]
    assert made["language"] == "en" and made["tags"] == ["delivery", "apology"]
    assert made["created_by"] == "supervisor"
    refused = client.post(
        "/api/v1/canned-replies", json={"name": "Mine", "body": "Hi"}, headers=auth(keys["csr"])
    )
    assert refused.status_code == 403
    csr = auth(keys["csr"])
    assert client.get(f"/api/v1/canned-replies/{made['id']}", headers=csr).json()["body"] == BODY
    _make(client, keys, name="Thanks", body="Thanks {{customer.name|there}}!", language="de")
    names = [c["name"] for c in client.get("/api/v1/canned-replies", headers=csr).json()["items"]]
    assert names == ["Delay", "Thanks"]
    by_tag = client.get("/api/v1/canned-replies", params={"tag": "apology"}, headers=csr).json()["items"]
    assert [c["name"] for c in by_tag] == ["Delay"]
    by_language = client.get("/api/v1/canned-replies", params={"language": "de"}, headers=csr).json()
    assert [c["name"] for c in by_language["items"]] == ["Thanks"]

    taken = client.post(
        "/api/v1/canned-replies", json={"name": "delay", "body": "Hi"}, headers=auth(keys["supervisor"])
    )
    assert taken.status_code == 409 and taken.json()["error"] == "CannedReplyNameTaken"
    changed = client.patch(
        f"/api/v1/canned-replies/{made['id']}",
        json={"body": "Hello {{customer.name}}", "language": ""},
        headers=auth(keys["supervisor"]),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["variables"] == ["customer.name"] and changed.json()["language"] is None
    assert (
        client.patch(f"/api/v1/canned-replies/{made['id']}", json={"tags": []}, headers=csr).status_code
        == 403
    )
    assert (
        client.delete(f"/api/v1/canned-replies/{made['id']}", headers=auth(keys["supervisor"])).status_code
        == 204
    )
    gone = client.get(f"/api/v1/canned-replies/{made['id']}", headers=csr)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("body", "error", "named"),
    [
        ("Hi {{customer.nickname}}", "UnknownVariable", "customer.nickname"),
        ("Hi {{customer.__class__}}", "UnknownVariable", "customer.__class__"),
        ("Hi {{order_id.upper}}", "UnknownVariable", "order_id.upper"),
        ("Hi {{ customer.name ", "MalformedTemplate", "character 3"),
        ("Hi {{{customer.name}}}", "MalformedTemplate", "character 3"),
        ("Hi {{customer.name|a|b}}", "MalformedTemplate", "character 3"),
        ("Hi {{0}}", "MalformedTemplate", "character 3"),
    ],
)
def test_a_template_is_checked_when_it_is_saved(client, keys, body, error, named):
    r = client.post(
        "/api/v1/canned-replies", json={"name": "Bad", "body": body}, headers=auth(keys["supervisor"])
    )
    assert r.status_code == 422 and r.json()["error"] == error, r.text
    assert named in r.json()["fields"][0]["message"]
    assert client.get("/api/v1/canned-replies", headers=auth(keys["csr"])).json()["items"] == []


def test_a_bad_change_leaves_the_template_as_it_was(client, keys):
    made = _make(client, keys)
    r = client.patch(
        f"/api/v1/canned-replies/{made['id']}",
        json={"name": "Renamed", "body": "{{oops}}"},
        headers=auth(keys["supervisor"]),
    )
    assert r.status_code == 422 and r.json()["error"] == "UnknownVariable"
    again = client.get(f"/api/v1/canned-replies/{made['id']}", headers=auth(keys["csr"])).json()
    assert (again["name"], again["body"]) == ("Delay", BODY)


def test_the_preview_fills_in_the_cases_values(client, keys):
    case_id = _at_respond(client, keys)
    made = _make(client, keys)
    r = client.post(
        f"/api/v1/canned-replies/{made['id']}:render", json={"case_id": case_id}, headers=auth(keys["csr"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["text"] == f"Hi Jane, sorry about order A12345. Your case is {case_id}. csr"
    assert r.json()["values"]["order_id"] == "A12345"
    assert _replies(client, keys, case_id) == []  # a preview writes nothing


def test_a_missing_value_is_a_422_naming_it_unless_there_is_a_fallback_or_it_is_given(client, keys):
    case_id = _at_respond(client, keys, WITHOUT_ORDER)
    csr = auth(keys["csr"])
    strict = _make(client, keys, name="Strict", body="Order {{order_id}} is on its way.")
    r = client.post(f"/api/v1/canned-replies/{strict['id']}:render", json={"case_id": case_id}, headers=csr)
    assert r.status_code == 422 and r.json()["error"] == "MissingVariable"
    assert r.json()["fields"] == [{"field": "variables.order_id", "message": "no value and no fallback"}]
    given = client.post(
        f"/api/v1/canned-replies/{strict['id']}:render",
        json={"case_id": case_id, "variables": {"order_id": "Z-991"}},
        headers=csr,
    )
    assert given.json()["text"] == "Order Z-991 is on its way."
    soft = _make(client, keys, name="Soft", body="{{order_id | Your order}} is on its way.")
    r = client.post(f"/api/v1/canned-replies/{soft['id']}:render", json={"case_id": case_id}, headers=csr)
    assert r.json()["text"] == "Your order is on its way."
    for variables, error in (({"case.id": "x"}, "InvalidInput"), ({"shoe_size": "9"}, "UnknownVariable")):
        r = client.post(
            f"/api/v1/canned-replies/{soft['id']}:render",
            json={"case_id": case_id, "variables": variables},
            headers=csr,
        )
        assert r.status_code == 422 and r.json()["error"] == error, r.text


def test_values_are_never_read_as_templates(client, keys):
    case_id = _at_respond(client, keys, name="{{case.id}} {{agent.name}}\nP.S. ignore the above")
    made = _make(client, keys, body="Dear {{customer.name}}, thanks.")
    r = client.post(
        f"/api/v1/canned-replies/{made['id']}:render", json={"case_id": case_id}, headers=auth(keys["csr"])
    )
    assert r.json()["text"] == "Dear {{case.id}} {{agent.name}} P.S. ignore the above, thanks."


def test_respond_with_a_canned_reply_queues_the_rendered_text_and_names_it(client, keys):
    case_id = _at_respond(client, keys)
    made = _make(client, keys)
    respond = _task(client, keys, case_id, "respond")
    done = client.post(
        f"/api/v1/tasks/{respond}/complete",
        json={"data": {"canned_reply_id": made["id"], "then": "wait"}},
        headers=auth(keys["csr"]),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "waiting"
    [reply] = _replies(client, keys, case_id)
    assert reply["text"] == f"Hi Jane, sorry about order A12345. Your case is {case_id}. csr"
    assert reply["canned_reply_id"] == made["id"]
    queued = [e for e in _timeline(client, keys, case_id) if e["type"] == "reply.queued"]
    assert queued[0]["data"]["canned_reply"] == {"id": made["id"], "name": "Delay"}
    assert queued[0]["data"]["text"] == reply["text"]
    task = client.get(f"/api/v1/tasks/{respond}", headers=auth(keys["csr"])).json()
    assert task["data"] == {"reply": reply["text"], "then": "wait"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"reply": "typed", "canned_reply_id": "CANNED"}, "InvalidInput"),
        ({"variables": {"order_id": "A1"}, "reply": "typed"}, "InvalidInput"),
        ({"canned_reply_id": "no-such-id"}, "NotFound"),
        ({"canned_reply_id": "STRICT"}, "MissingVariable"),
    ],
)
def test_a_canned_respond_that_cannot_render_writes_nothing(client, keys, data, error):
    case_id = _at_respond(client, keys, WITHOUT_ORDER)
    ids = {"CANNED": _make(client, keys)["id"], "STRICT": _make(client, keys, "Strict", "{{order_id}}")["id"]}
    data = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    respond = _task(client, keys, case_id, "respond")
    r = client.post(f"/api/v1/tasks/{respond}/complete", json={"data": data}, headers=auth(keys["csr"]))
    assert r.json()["error"] == error, r.text
    assert _replies(client, keys, case_id) == []
    assert _task(client, keys, case_id, "respond") == respond


def test_a_canned_reply_only_completes_a_respond_task(client, keys):
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    case_id = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()["case_id"]
    made = _make(client, keys)
    triage = _task(client, keys, case_id, "triage")
    r = client.post(
        f"/api/v1/tasks/{triage}/complete",
        json={"data": {"action": "respond", "canned_reply_id": made["id"]}},
        headers=auth(keys["csr"]),
    )
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "canned_reply_id"


def test_a_bulk_reply_completes_each_respond_and_a_failing_case_rolls_back_alone(client, keys, settings_env):
    with receiver() as rx:
        settings_env(reply_endpoint=rx.url)
        ready = [_at_respond(client, keys, name=f"Jane {n}") for n in range(3)]
        no_order = _at_respond(client, keys, WITHOUT_ORDER)
        r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
        drain()
        at_triage = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()[
            "case_id"
        ]
        made = _make(client, keys, body="Hi {{customer.name}}, order {{order_id}} ({{case.id}}).")
        ids = [ready[0], no_order, ready[1], at_triage, "no-such-case", ready[2]]
        out = client.post(
            "/api/v1/cases:bulk-reply",
            json={"case_ids": ids, "canned_reply_id": made["id"]},
            headers=auth(keys["csr"]),
        )
        assert out.status_code == 200, out.text
        results = out.json()["results"]
        assert [x["case_id"] for x in results] == ids
        assert [x["status"] for x in results] == ["ok", "error", "ok", "error", "error", "ok"]
        assert [x["error"] for x in results] == [
            None,
            "MissingVariable",
            None,
            "NoRespondTask",
            "NotFound",
            None,
        ]
        assert (out.json()["ok"], out.json()["failed"]) == (3, 3)
        for n, case_id in enumerate(ready):
            [reply] = _replies(client, keys, case_id)
            assert reply["id"] == results[ids.index(case_id)]["reply_id"]
            assert reply["text"] == f"Hi Jane {n}, order A12345 ({case_id})."
            assert _case(client, keys, case_id)["tasks"][0]["name"] == "resolve"
        for case_id in (no_order, at_triage):
            assert _replies(client, keys, case_id) == []
            types = [e["type"] for e in _timeline(client, keys, case_id)]
            assert "reply.queued" not in types and types.count("task.completed") == (case_id == no_order)
        assert _task(client, keys, no_order, "respond")
        deliver(lambda: len(rx.requests) >= 3)
        deliver()
        assert sorted(q.json()["case_id"] for q in rx.requests) == sorted(ready)


def test_a_bulk_reply_with_text_follows_then(client, keys):
    ids = [_at_respond(client, keys) for _ in range(2)]
    out = client.post(
        "/api/v1/cases:bulk-reply",
        json={"case_ids": ids, "text": "We are on it.", "then": "wait"},
        headers=auth(keys["csr"]),
    ).json()
    assert [x["case_status"] for x in out["results"]] == ["waiting", "waiting"]
    assert [_replies(client, keys, c)[0]["text"] for c in ids] == ["We are on it."] * 2


def test_a_bulk_reply_to_a_case_someone_else_holds_fails_for_that_case(client, keys):
    held, free = _at_respond(client, keys), _at_respond(client, keys)
    assert client.post(f"/api/v1/cases/{held}/claim", headers=auth(keys["csr2"])).status_code == 200
    out = client.post(
        "/api/v1/cases:bulk-reply", json={"case_ids": [held, free], "text": "Hi"}, headers=auth(keys["csr"])
    ).json()
    assert [x["error"] for x in out["results"]] == ["TaskHeld", None]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"case_ids": [], "text": "Hi"}, "case_ids"),
        ({"case_ids": [f"c{n}" for n in range(101)], "text": "Hi"}, "case_ids"),
        ({"case_ids": ["a", "b", "a"], "text": "Hi"}, "case_ids"),
        ({"case_ids": ["a"]}, "text"),
        ({"case_ids": ["a"], "text": "Hi", "canned_reply_id": "x"}, "text"),
        ({"case_ids": ["a"], "text": "Hi", "variables": {"order_id": "1"}}, "variables"),
    ],
)
def test_a_bad_bulk_request_is_refused_whole(client, keys, body, field):
    r = client.post("/api/v1/cases:bulk-reply", json=body, headers=auth(keys["csr"]))
    assert r.status_code == 422 and r.json()["error"] == "InvalidInput", r.text
    assert r.json()["fields"][0]["field"] == field
    assert count(OutboundReply) == 0


def test_a_case_failing_after_its_reply_was_written_leaves_no_trace_and_the_others_keep_theirs(
    client, keys, monkeypatch
):
    from engine.cases import clocks
    from engine.errors import Conflict

    ids = [_at_respond(client, keys) for _ in range(3)]
    real = clocks.replied

    def replied(session, case):  # type: ignore[no-untyped-def]
        if case.id == ids[1]:  # after the reply, its events and the task's completion are written
            raise Conflict("the clock refused")
        return real(session, case)

    monkeypatch.setattr(clocks, "replied", replied)
    out = client.post(
        "/api/v1/cases:bulk-reply", json={"case_ids": ids, "text": "On it."}, headers=auth(keys["csr"])
    ).json()
    assert [x["error"] for x in out["results"]] == [None, "Conflict", None]
    for case_id in ids:
        types = [e["type"] for e in _timeline(client, keys, case_id)]
        written = case_id != ids[1]
        assert len(_replies(client, keys, case_id)) == written
        assert ("reply.queued" in types) == written and types.count("task.completed") == 1 + written
    assert _task(client, keys, ids[1], "respond")
    assert count(OutboundReply) == 2
