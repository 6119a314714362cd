"""Keys and roles."""

from __future__ import annotations

import pytest

from tests.helpers import auth, signal_body


def test_health_needs_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}])
def test_missing_or_wrong_key_is_401(client, db, headers):
    r = client.get("/api/v1/cases", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "Unauthorized"


def test_roles_are_enforced(client, keys):
    assert client.get("/api/v1/cases", headers=auth(keys["integration"])).status_code == 403
    assert client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["csr"])).status_code == 403
    r = client.post("/api/v1/keys", json={"name": "x", "role": "csr"}, headers=auth(keys["supervisor"]))
    assert r.status_code == 403 and r.json()["error"] == "Forbidden"
    assert client.get("/api/v1/cases", headers=auth(keys["csr"])).status_code == 200
    assert client.get("/api/v1/cases", headers=auth(keys["admin"])).status_code == 200


def test_admin_creates_a_key_shown_once_and_stored_hashed(client, keys):
    r = client.post(
        "/api/v1/keys",
        json={"name": "alice", "role": "csr", "skills": ["billing"], "queues": ["care"]},
        headers=auth(keys["admin"]),
    )
    assert r.status_code == 201
    raw = r.json()["key"]
    assert client.get("/api/v1/cases", headers=auth(raw)).status_code == 200
    from sqlalchemy import select

    from engine.auth.models import ApiKey
    from engine.db import unit_of_work

    with unit_of_work() as s:
        stored = s.execute(select(ApiKey.__table__).where(ApiKey.name == "alice")).one()
    # no column holds the key or any 8 characters of it
    pieces = {raw[i : i + 8] for i in range(len(raw) - 7)}
    assert not any(p in str(value) for value in stored for p in pieces)
    again = client.post("/api/v1/keys", json={"name": "alice", "role": "csr"}, headers=auth(keys["admin"]))
    assert again.status_code == 409
    bad = client.post("/api/v1/keys", json={"name": "bob", "role": "root"}, headers=auth(keys["admin"]))
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "role"


def test_bootstrap_admin_key_is_created_once(db, monkeypatch):
    from engine import bootstrap
    from engine.auth import service as auth_service
    from engine.config import get_settings
    from engine.db import unit_of_work

    monkeypatch.setenv("SIFT_BOOTSTRAP_ADMIN_KEY", "boot-secret-1-of-24-chars")
    get_settings.cache_clear()
    try:
        bootstrap.prepare()
        bootstrap.prepare()
        with unit_of_work() as s:
            assert auth_service.authenticate(s, "boot-secret-1-of-24-chars").role == "admin"
    finally:
        monkeypatch.delenv("SIFT_BOOTSTRAP_ADMIN_KEY")
        get_settings.cache_clear()


def test_unknown_endpoint_has_the_error_shape(client, keys):
    r = client.get("/api/v1/nothing-here", headers=auth(keys["admin"]))
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
