"""Sign-in, the session cookie, CSRF and the ways a session ends, seen over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.helpers import auth, drain, signal_body


def _signin(client, key: str, **headers: str):
    return client.post("/signin", data={"key": key, "next": "/work"}, headers=headers, follow_redirects=False)


def _csrf(client) -> str:
    page = client.get("/work")
    assert page.status_code == 200, page.text[:300]
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text).group(1)


def _case_id(client, keys) -> str:
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    return client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()["case_id"]


def test_signin_sets_an_httponly_strict_cookie_and_the_key_is_nowhere_in_the_answer(client, keys):
    r = _signin(client, keys["csr"])
    assert r.status_code == 303 and r.headers["location"] == "/work"
    cookie = r.headers["set-cookie"]
    assert "sift_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert keys["csr"] not in cookie and keys["csr"] not in r.text
    page = client.get("/work")
    assert page.status_code == 200 and keys["csr"] not in page.text
    assert "csr" in page.text and 'name="csrf-token"' in page.text


def test_a_bad_key_is_refused_on_the_form_without_a_cookie(client, keys):
    r = _signin(client, "sift_not-a-key")
    assert r.status_code == 401 and "not valid" in r.text
    assert "set-cookie" not in r.headers
    assert client.get("/work", follow_redirects=False).headers["location"].startswith("/signin")


def test_a_signin_posted_from_another_site_is_refused(client, keys):
    r = _signin(client, keys["csr"], **{"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = _signin(client, keys["csr"], Origin="https://evil.example")
    assert r.status_code == 403


def test_the_next_page_after_signin_stays_on_this_site(client, keys):
    r = client.post("/signin", data={"key": keys["csr"], "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/work"


def test_the_cookie_reads_the_api_and_writes_only_with_the_csrf_token(client, keys):
    case_id = _case_id(client, keys)
    _signin(client, keys["csr"])
    assert client.get(f"/api/v1/cases/{case_id}").status_code == 200
    refused = client.post(f"/api/v1/cases/{case_id}/claim")
    assert refused.status_code == 403 and refused.json()["error"] == "CsrfRefused"
    wrong = client.post(f"/api/v1/cases/{case_id}/claim", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "CsrfRefused"
    ok = client.post(f"/api/v1/cases/{case_id}/claim", headers={"X-CSRF-Token": _csrf(client)})
    assert ok.status_code == 200 and ok.json()["assignee"] == "csr"


def test_the_cookie_carries_the_keys_role_and_no_more(client, keys):
    _signin(client, keys["csr"])
    token = _csrf(client)
    r = client.post("/api/v1/keys", json={"name": "x", "role": "admin"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 403 and r.json()["error"] == "Forbidden"
    assert client.get("/board").status_code == 403


def test_a_bearer_key_is_judged_alone_even_beside_a_cookie(client, keys):
    case_id = _case_id(client, keys)
    _signin(client, keys["supervisor"])
    # a bearer request needs no CSRF token, and the cookie does not lend it the supervisor's role
    r = client.post(f"/api/v1/cases/{case_id}/claim", headers=auth(keys["csr"]))
    assert r.status_code == 200 and r.json()["assignee"] == "csr"
    bad = client.get(f"/api/v1/cases/{case_id}", headers=auth("sift_wrong"))
    assert bad.status_code == 401


def test_signout_ends_the_session_even_for_a_kept_cookie(client, keys):
    _signin(client, keys["csr"])
    token = _csrf(client)
    kept = client.cookies.get("sift_session")
    no_token = client.post("/signout", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    r = client.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    client.cookies.set("sift_session", kept)
    r = client.get("/api/v1/cases")
    assert r.status_code == 401 and r.json()["error"] == "SessionExpired"
    assert client.get("/work", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_an_expired_or_idle_session_is_refused(client, keys, column):
    from engine.auth.models import WebSession
    from engine.db import unit_of_work, utcnow

    _signin(client, keys["csr"])
    with unit_of_work() as s:
        s.execute(update(WebSession).values({column: utcnow() - timedelta(hours=13)}))
    r = client.get("/api/v1/cases")
    assert r.status_code == 401 and r.json()["error"] == "SessionExpired"
    page = client.get("/work", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=/work"


def test_revoking_the_key_ends_its_sessions(client, keys):
    from engine.auth import service as auth_service
    from engine.db import unit_of_work

    _signin(client, keys["csr"])
    assert client.get("/api/v1/cases").status_code == 200
    with unit_of_work() as s:
        auth_service.revoke_key(s, "csr", actor="admin")
    assert client.get("/api/v1/cases").json()["error"] == "SessionExpired"


def test_the_stream_sends_case_events_without_their_data(client, keys):
    from engine.db import unit_of_work
    from engine.events import service as events

    with unit_of_work() as s:
        start = events.last_seq(s)
    case_id = _case_id(client, keys)
    _signin(client, keys["csr"])
    r = client.get("/api/v1/stream", params={"wait": 0, "after": start})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in r.text.split("\n\n") if f.startswith("id: ")]
    assert frames, r.text
    assert all(f'"case_id": "{case_id}"' in f for f in frames)
    assert '"type": "case.opened"' in r.text and '"data"' not in r.text
    assert signal_body()["text"][:20] not in r.text
    resumed = client.get("/api/v1/stream", params={"wait": 0}, headers={"Last-Event-ID": str(start)})
    assert resumed.text.count("id: ") == len(frames)
    assert client.get("/api/v1/stream", params={"wait": 0}).text.count("id: ") == 0  # from now on


def test_next_is_offered_to_csr_and_admin_keys_not_to_supervisors(client, keys):
    for name, offered in (("csr", True), ("admin", True), ("supervisor", False)):
        client.cookies.clear()
        _signin(client, keys[name])
        button = re.search(r'<button type="button" id="next"[^>]*>', client.get("/work").text).group(0)
        assert ("disabled" not in button) is offered, (name, button)
