"""Every role's access to every endpoint, in one table.

The test walks the app's routes and fails when a route is missing from ``TABLE`` (or the table
names a route that is gone), so a new endpoint cannot skip the decision. "Allowed" means the
request got past the role check: anything but 401/403 (a 404 for a dummy id is allowed).
"Denied" means exactly 403. Without a key every endpoint but the public ones is 401.

Web pages (``Page``) are reached with a session cookie, not a bearer key: without one they
redirect to the sign-in page, and each role signs in and gets the page (allowed) or 403. Sign-in
and sign-out (``SESSION``) need no key by nature; tests/web/test_sessions.py covers them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.helpers import auth, signal_body

ROLES = ("integration", "csr", "supervisor", "process_owner", "admin")
PUBLIC = "public"
SESSION = "session"


class Page(frozenset[str]):
    """The roles that may open a web page (signed in with a session cookie)."""


WORKERS = {"csr", "supervisor"}
READERS = {"csr", "supervisor", "process_owner"}
ADMIN = {"admin"}

# the bodies are valid, so the role check (inside the endpoint) is what decides
POLICY = {
    "calendar": "24x7",
    "targets": {
        p: {"first_response": "PT1H", "next_response": "PT2H", "resolution": "PT8H"}
        for p in ("urgent", "high", "normal", "low")
    },
    "warning_at": 0.75,
}
Request = dict[str, Any]


def _body(json: Any) -> Callable[[str], Request]:
    return lambda role: {"json": json}


def _nothing(role: str) -> Request:
    return {}


TABLE: dict[tuple[str, str], tuple[set[str] | frozenset[str] | str, Callable[[str], Request]]] = {
    ("GET", "/healthz"): (PUBLIC, _nothing),
    ("GET", "/metrics"): (PUBLIC, _nothing),
    ("GET", "/readyz"): (PUBLIC, _nothing),
    ("MOUNT", "/static-offline-docs"): (PUBLIC, _nothing),  # the docs' own assets
    ("MOUNT", "/static"): (PUBLIC, _nothing),  # the pages' scripts and styles
    ("MOUNT", "/vendor/chart.js"): (PUBLIC, _nothing),  # npm packages the pages load
    ("MOUNT", "/vendor/bpmn-js"): (PUBLIC, _nothing),
    ("MOUNT", "/vendor/dmn-js"): (PUBLIC, _nothing),
    ("GET", "/"): (PUBLIC, _nothing),  # a redirect to sign-in, My work or the workbench
    ("GET", "/signin"): (PUBLIC, _nothing),
    ("POST", "/signin"): (SESSION, _nothing),
    ("POST", "/signout"): (SESSION, _nothing),
    ("GET", "/work"): (Page(WORKERS), _nothing),
    ("GET", "/cases/{case_id}"): (Page(WORKERS), _nothing),
    ("GET", "/board"): (Page({"supervisor"}), _nothing),
    ("GET", "/dashboard"): (Page({"supervisor"}), _nothing),
    ("GET", "/workbench"): (Page({"process_owner"}), _nothing),
    ("GET", "/workbench/processes/{key}"): (Page({"process_owner"}), _nothing),
    ("GET", "/workbench/instances/{instance_id}"): (Page({"process_owner"}), _nothing),
    ("GET", "/api/v1/stream"): (WORKERS, lambda role: {"params": {"wait": 0}}),
    ("POST", "/api/v1/cases/{case_id}/draft"): (WORKERS, _nothing),  # 409 AssistOff by default
    ("GET", "/api/v1/timers"): ({"supervisor"}, _nothing),
    ("POST", "/api/v1/timers/{timer_id}/retry"): ({"supervisor"}, _nothing),
    ("GET", "/api/v1/incidents"): ({"supervisor", "process_owner"}, _nothing),
    ("GET", "/api/v1/incidents/{incident_id}"): ({"supervisor", "process_owner"}, _nothing),
    ("POST", "/api/v1/incidents/{incident_id}:retry"): ({"supervisor", "process_owner"}, _body({})),
    ("GET", "/api/v1/processes/{key}/instances"): ({"supervisor", "process_owner"}, _nothing),
    ("GET", "/api/v1/instances/{instance_id}"): ({"supervisor", "process_owner"}, _nothing),
    ("GET", "/openapi.json"): (PUBLIC, _nothing),
    ("GET", "/docs"): (PUBLIC, _nothing),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, _nothing),
    ("GET", "/redoc"): (PUBLIC, _nothing),
    ("POST", "/api/v1/signals"): ({"integration"}, lambda role: {"json": signal_body()}),
    ("POST", "/api/v1/signals:batch"): ({"integration"}, lambda role: {"json": {"signals": [signal_body()]}}),
    ("GET", "/api/v1/signals"): ({"integration", *READERS}, _nothing),
    ("GET", "/api/v1/signals/{signal_id}"): ({"integration", *READERS}, _nothing),
    ("POST", "/api/v1/suppressions"): (
        {"supervisor", "process_owner"},
        _body({"kind": "phrase", "value": "free followers", "expires_at": "2999-01-01T00:00:00Z"}),
    ),
    ("GET", "/api/v1/suppressions"): (READERS, _nothing),
    ("DELETE", "/api/v1/suppressions/{rule_id}"): ({"supervisor", "process_owner"}, _nothing),
    ("GET", "/api/v1/cases"): (WORKERS, _nothing),
    ("GET", "/api/v1/cases/{case_id}"): (WORKERS, _nothing),
    ("GET", "/api/v1/cases/{case_id}/timeline"): (WORKERS, _nothing),
    ("POST", "/api/v1/cases/{case_id}/claim"): (WORKERS, _nothing),
    ("POST", "/api/v1/cases/{case_id}/release"): (WORKERS, _nothing),
    ("POST", "/api/v1/cases/{case_id}/assign"): ({"supervisor"}, _body({"assignee": "csr"})),
    ("POST", "/api/v1/cases/{case_id}/comments"): (WORKERS, _body({"body": "hello"})),
    ("GET", "/api/v1/cases/{case_id}/comments"): (WORKERS, _nothing),
    ("POST", "/api/v1/cases/{case_id}/links"): (WORKERS, _body({"type": "related", "case_id": "other"})),
    ("GET", "/api/v1/cases/{case_id}/links"): (WORKERS, _nothing),
    ("DELETE", "/api/v1/cases/{case_id}/links/{link_id}"): (WORKERS, _nothing),
    ("POST", "/api/v1/cases/{case_id}:merge"): (WORKERS, _body({"into": "other"})),
    ("GET", "/api/v1/mentions"): (WORKERS, _nothing),
    ("POST", "/api/v1/mentions/{mention_id}/read"): (WORKERS, _nothing),
    ("GET", "/api/v1/tasks"): (WORKERS, _nothing),
    ("POST", "/api/v1/tasks:next"): ({"csr"}, _nothing),
    ("POST", "/api/v1/tasks/{task_id}/claim"): (WORKERS, _nothing),
    ("POST", "/api/v1/tasks/{task_id}/release"): (WORKERS, _nothing),
    ("POST", "/api/v1/tasks/{task_id}/assign"): ({"supervisor"}, _body({"assignee": "csr"})),
    ("POST", "/api/v1/tasks/{task_id}/writing"): (WORKERS, _nothing),
    ("DELETE", "/api/v1/tasks/{task_id}/writing"): (WORKERS, _nothing),
    ("GET", "/api/v1/queues"): (WORKERS, _nothing),
    ("POST", "/api/v1/cases/{case_id}/csat"): ({"integration", "supervisor"}, _body({"score": 4})),
    ("GET", "/api/v1/insights/experience"): (READERS, _nothing),
    ("GET", "/api/v1/insights/experience/weights"): (READERS, _nothing),
    ("PUT", "/api/v1/insights/experience/weights"): ({"supervisor"}, _body({"csat": 2})),
    ("PUT", "/api/v1/queues/{name}"): ({"supervisor"}, _body({"strategy": "round_robin", "skills": []})),
    ("GET", "/api/v1/agents"): ({"supervisor"}, _nothing),
    # "me": every worker may set their own presence; the other roles are refused
    ("PATCH", "/api/v1/agents/{name}"): (WORKERS, lambda role: {"json": {"away": False}}),
    ("POST", "/api/v1/cases:bulk-reply"): (WORKERS, _body({"case_ids": ["nope"], "text": "Hi"})),
    ("POST", "/api/v1/canned-replies"): (
        {"supervisor"},
        lambda role: {"json": {"name": f"table-{role}", "body": "Hi {{customer.name|there}}"}},
    ),
    ("GET", "/api/v1/canned-replies"): (WORKERS, _nothing),
    ("GET", "/api/v1/canned-replies/{reply_id}"): (WORKERS, _nothing),
    ("PATCH", "/api/v1/canned-replies/{reply_id}"): ({"supervisor"}, _body({"tags": ["x"]})),
    ("DELETE", "/api/v1/canned-replies/{reply_id}"): ({"supervisor"}, _nothing),
    ("POST", "/api/v1/canned-replies/{reply_id}:render"): (WORKERS, _body({"case_id": "nope"})),
    ("GET", "/api/v1/tasks/{task_id}"): (WORKERS, _nothing),
    ("POST", "/api/v1/tasks/{task_id}/complete"): (WORKERS, _body({"data": {}})),
    ("GET", "/api/v1/customers"): (WORKERS, lambda role: {"params": {"handle": "twitter:@nobody"}}),
    ("GET", "/api/v1/customers/{customer_id}"): (WORKERS, _nothing),
    ("POST", "/api/v1/customers:import"): (
        {"supervisor"},
        lambda role: {"content": b"external_ref,name\n", "headers": {"Content-Type": "text/csv"}},
    ),
    ("GET", "/api/v1/sla/policies"): (READERS, _nothing),
    ("GET", "/api/v1/sla/policies/{name}"): (READERS, _nothing),
    ("PUT", "/api/v1/sla/policies/{name}"): ({"supervisor"}, _body(POLICY)),
    ("GET", "/api/v1/sla/calendars"): (READERS, _nothing),
    ("GET", "/api/v1/sla/calendars/{name}"): (READERS, _nothing),
    ("PUT", "/api/v1/sla/calendars/{name}"): (
        {"supervisor"},
        _body({"time_zone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}, "holidays": None}),
    ),
    ("POST", "/api/v1/sla/preview"): (READERS, _body({"policy": "default", "priority": "normal"})),
    ("GET", "/api/v1/sla/report"): ({"supervisor"}, _nothing),
    ("POST", "/api/v1/keys"): (ADMIN, lambda role: {"json": {"name": f"table-{role}", "role": "csr"}}),
    ("GET", "/api/v1/keys"): (ADMIN, _nothing),
    ("GET", "/api/v1/keys/audit"): (ADMIN, _nothing),
    ("POST", "/api/v1/keys/{key_id}/revoke"): (ADMIN, _nothing),
    ("POST", "/api/v1/connectors"): (
        ADMIN,
        lambda role: {
            "json": {
                "name": f"feed-{role}",
                "kind": "rss",
                "options": {"feeds": ["https://example.test/feed"]},
            }
        },
    ),
    ("GET", "/api/v1/connectors"): (ADMIN, _nothing),
    ("GET", "/api/v1/connectors/{connector_id}"): (ADMIN, _nothing),
    ("PATCH", "/api/v1/connectors/{connector_id}"): (ADMIN, _body({"enabled": False})),
    ("DELETE", "/api/v1/connectors/{connector_id}"): (ADMIN, _nothing),
    ("POST", "/api/v1/webhooks"): (ADMIN, _body({"url": "https://example.test/hook", "events": ["*"]})),
    ("GET", "/api/v1/webhooks"): (ADMIN, _nothing),
    ("GET", "/api/v1/webhooks/{webhook_id}"): (ADMIN, _nothing),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): (ADMIN, _nothing),
    ("POST", "/api/v1/webhooks/{webhook_id}:enable"): (ADMIN, _nothing),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): (ADMIN, _nothing),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}:redeliver"): (ADMIN, _nothing),
    ("GET", "/api/v1/replies"): (WORKERS, _nothing),
    ("POST", "/api/v1/replies/{reply_id}:retry"): ({"supervisor"}, _nothing),
    ("POST", "/api/v1/cases/{case_id}/participants"): (
        {"supervisor"},
        _body({"user": "csr", "department": "logistics"}),
    ),
    ("DELETE", "/api/v1/cases/{case_id}/participants/{user}"): ({"supervisor"}, _nothing),
    ("POST", "/api/v1/cases/{case_id}/subtasks"): (WORKERS, _body({"title": "check", "assignee": "csr"})),
    ("GET", "/api/v1/cases/{case_id}/subtasks"): (READERS, _nothing),
    ("GET", "/api/v1/subtasks"): (READERS, _nothing),
    ("POST", "/api/v1/subtasks/{subtask_id}:complete"): (READERS, _body({})),
    ("GET", "/api/v1/cases/{case_id}/change-requests"): (READERS, _nothing),
    ("GET", "/api/v1/change-requests/{request_id}"): (READERS, _nothing),
    ("POST", "/api/v1/change-requests/{request_id}/replay-test"): (
        {"supervisor", "process_owner"},
        _body({"version": 1}),
    ),
    ("POST", "/api/v1/change-requests/{request_id}/approve"): ({"process_owner"}, _body({"version": 1})),
    ("POST", "/api/v1/processes/{key}/versions/{number}/replay-test"): (
        {"supervisor", "process_owner"},
        _body({"limit": 1}),
    ),
    ("POST", "/api/v1/processes/{key}/migrations"): (
        {"process_owner"},
        _body({"from_version": 1, "to_version": 2}),
    ),
    ("GET", "/api/v1/trends"): ({"integration", *READERS}, _nothing),
    ("GET", "/api/v1/trends/{trend_id}"): ({"integration", *READERS}, _nothing),
    ("GET", "/api/v1/trends/thresholds"): (READERS, _nothing),
    ("PUT", "/api/v1/trends/thresholds/{topic}"): ({"supervisor"}, _body({"score": 5})),
    ("GET", "/api/v1/insights/series"): (READERS, lambda role: {"params": {"topic": "delivery"}}),
    ("GET", "/api/v1/insights/top-issues"): (READERS, _nothing),
    ("GET", "/api/v1/processes"): (READERS, _nothing),
    ("POST", "/api/v1/processes"): (
        {"process_owner"},
        lambda role: {"files": {"file": ("x.bpmn", b"not xml", "application/xml")}},
    ),
    ("GET", "/api/v1/processes/{key}/audit"): (READERS, _nothing),
    ("GET", "/api/v1/processes/{key}/versions/{number}"): (READERS, _nothing),
    ("GET", "/api/v1/processes/{key}/versions/{number}/diff"): (READERS, _nothing),
    ("GET", "/api/v1/processes/{key}/versions/{number}/xml"): (READERS, _nothing),
    ("POST", "/api/v1/processes/{key}/versions/{number}/deploy"): ({"process_owner"}, _nothing),
    ("PUT", "/api/v1/processes/{key}/draft"): (
        {"process_owner"},
        lambda role: {"files": {"file": ("x.bpmn", b"not xml", "application/xml")}},
    ),
    ("GET", "/api/v1/processes/{key}/draft"): ({"process_owner"}, _nothing),
    ("GET", "/api/v1/processes/{key}/draft/xml"): ({"process_owner"}, _nothing),
    ("DELETE", "/api/v1/processes/{key}/draft"): ({"process_owner"}, _nothing),
    ("POST", "/api/v1/processes:validate"): (
        {"process_owner"},
        lambda role: {"files": {"file": ("x.bpmn", b"not xml", "application/xml")}},
    ),
    ("POST", "/api/v1/processes/routing:test"): ({"process_owner"}, _body({"context": {}})),
}

DUMMY = {"number": "1", "name": "table-test"}
MOUNT_FILES = {
    "/static-offline-docs": "swagger-ui.css",
    "/static": "app.css",
    "/vendor/chart.js": "chart.umd.min.js",
    "/vendor/bpmn-js": "bpmn-modeler.production.min.js",
    "/vendor/dmn-js": "dmn-modeler.production.min.js",
}
PATHS = {"/api/v1/agents/{name}": "/api/v1/agents/me"}


def app_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
            continue
        for method in context.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                found.add((method, context.path))
    return found


def _url(path: str) -> str:
    if path in PATHS:
        return PATHS[path]
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            path = path.replace(part, DUMMY.get(name, "no-such-id"))
    return path


def test_every_route_is_in_the_table(app):
    routes = app_routes(app)
    missing = sorted(routes - TABLE.keys())
    stale = sorted(TABLE.keys() - routes)
    assert not missing, f"routes with no entry in the access table: {missing}"
    assert not stale, f"table entries for routes that do not exist: {stale}"


@pytest.mark.parametrize("route", sorted(TABLE), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_role_is_allowed_or_forbidden_as_the_table_says(client, keys, route):
    method, path = route
    allowed, request = TABLE[route]
    url = _url(path)
    if method == "MOUNT":  # static files: one of them stands for the mount
        method, url = "GET", f"{path}/{MOUNT_FILES[path]}"
    if allowed == PUBLIC:
        r = client.request(method, url, follow_redirects=False, **request("anonymous"))
        assert r.status_code in (200, 303), (route, r.status_code, r.text[:200])
        return
    if allowed == SESSION:
        r = client.request(method, url, follow_redirects=False, **request("anonymous"))
        # no session without a key: a cookie may only be cleared (set empty)
        assert r.status_code < 500 and not re.search(r"sift_session=[^\";]", r.headers.get("set-cookie", ""))
        return
    if isinstance(allowed, Page):
        _check_page(client, keys, method, url, allowed)
        return
    anonymous = client.request(method, url, **request("anonymous"))
    assert anonymous.status_code == 401, (route, "no key", anonymous.status_code)
    for role in ROLES:
        kwargs = request(role)
        headers = auth(keys[role]) | kwargs.pop("headers", {})
        r = client.request(method, url, headers=headers, **kwargs)
        if role == "admin" or role in allowed:
            assert r.status_code not in (401, 403), (route, role, r.status_code, r.text[:200])
        else:
            assert r.status_code == 403, (route, role, r.status_code, r.text[:200])
            assert r.json()["error"] == "Forbidden"


def _check_page(client: Any, keys: dict[str, str], method: str, url: str, allowed: Page) -> None:
    client.cookies.clear()
    anonymous = client.request(method, url, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin"), url
    bearer = client.request(method, url, headers=auth(keys["admin"]), follow_redirects=False)
    assert bearer.status_code == 303, (url, "pages take the session cookie, not a bearer key")
    for role in ROLES:
        client.cookies.clear()
        signed = client.post("/signin", data={"key": keys[role]}, follow_redirects=False)
        assert signed.status_code == 303, (role, signed.status_code)
        r = client.request(method, url, follow_redirects=False)
        if role == "admin" or role in allowed:
            assert r.status_code in (200, 404), (url, role, r.status_code, r.text[:200])
        else:
            assert r.status_code == 403, (url, role, r.status_code)
    client.cookies.clear()
