"""Listing and revoking keys (HTTP and CLI), the audit trail, and what is stored of a key."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from api.cli import app as cli
from engine.auth import service as auth_service
from engine.auth.models import ApiKey
from engine.db import get_engine, unit_of_work
from engine.errors import InvalidInput
from tests.helpers import auth

FIELDS = {"id", "name", "role", "skills", "queues", "created_at", "last_used_at", "revoked_at"}


def _by_name(items: list[dict], name: str) -> dict:
    return next(i for i in items if i["name"] == name)


def test_admin_lists_keys_without_any_part_of_a_key(client, keys):
    r = client.get("/api/v1/keys", headers=auth(keys["admin"]))
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["name"] for i in items} == {
        "integration",
        "csr",
        "supervisor",
        "process_owner",
        "admin",
        "csr2",
    }
    assert all(set(i) == FIELDS for i in items)
    text = r.text
    for raw in keys.values():
        assert raw[:8] not in text and auth_service.hash_key(raw) not in text
    # the admin's own request is recorded as a use; csr2 has never been used
    assert _by_name(items, "admin")["last_used_at"] is not None
    assert _by_name(items, "csr2")["last_used_at"] is None
    assert client.get("/api/v1/keys", headers=auth(keys["supervisor"])).status_code == 403


def test_a_revoked_key_is_refused_on_the_very_next_request(client, keys):
    assert client.get("/api/v1/cases", headers=auth(keys["csr"])).status_code == 200
    csr_id = _by_name(client.get("/api/v1/keys", headers=auth(keys["admin"])).json()["items"], "csr")["id"]
    r = client.post(f"/api/v1/keys/{csr_id}/revoke", headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    refused = client.get("/api/v1/cases", headers=auth(keys["csr"]))
    assert refused.status_code == 401 and refused.json()["error"] == "Unauthorized"
    # revoking again changes nothing, records nothing
    again = client.post(f"/api/v1/keys/{csr_id}/revoke", headers=auth(keys["admin"]))
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    listed = _by_name(client.get("/api/v1/keys", headers=auth(keys["admin"])).json()["items"], "csr")
    assert listed["revoked_at"] == r.json()["revoked_at"]
    audit = client.get("/api/v1/keys/audit", headers=auth(keys["admin"])).json()["items"]
    revoked = [e for e in audit if e["type"] == "key.revoked"]
    assert len(revoked) == 1
    assert revoked[0]["actor"] == "admin" and revoked[0]["data"] == {
        "id": csr_id,
        "name": "csr",
        "role": "csr",
    }
    created = [e for e in audit if e["type"] == "key.created"]
    assert {e["data"]["name"] for e in created} >= {"csr", "admin"}
    # the name stays taken: assignees and timeline actors keep meaning one holder
    r = client.post("/api/v1/keys", json={"name": "csr", "role": "csr"}, headers=auth(keys["admin"]))
    assert r.status_code == 409


def test_unknown_key_id_is_404(client, keys):
    r = client.post("/api/v1/keys/no-such-key/revoke", headers=auth(keys["admin"]))
    assert r.status_code == 404 and r.json()["error"] == "NotFound"


def test_the_last_active_admin_key_cannot_be_revoked(client, keys):
    admin_id = _by_name(client.get("/api/v1/keys", headers=auth(keys["admin"])).json()["items"], "admin")[
        "id"
    ]
    r = client.post(f"/api/v1/keys/{admin_id}/revoke", headers=auth(keys["admin"]))
    assert r.status_code == 409 and r.json()["error"] == "Conflict"
    assert "last active admin key" in r.json()["detail"]
    second = client.post("/api/v1/keys", json={"name": "root2", "role": "admin"}, headers=auth(keys["admin"]))
    root2 = second.json()
    # with a second admin, the first may go; then the second is the last one
    assert client.post(f"/api/v1/keys/{admin_id}/revoke", headers=auth(root2["key"])).status_code == 200
    assert client.get("/api/v1/keys", headers=auth(keys["admin"])).status_code == 401
    last = client.post(f"/api/v1/keys/{root2['id']}/revoke", headers=auth(root2["key"]))
    assert last.status_code == 409
    assert client.get("/api/v1/keys", headers=auth(root2["key"])).status_code == 200


def test_cli_lists_and_revokes_by_name_or_id(keys):
    runner = CliRunner()
    listed = runner.invoke(cli, ["keys", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert {r["name"] for r in rows} >= {"csr", "csr2", "admin"}
    assert all(set(r) == FIELDS for r in rows)
    for raw in keys.values():
        assert raw[:8] not in listed.output
    plain = runner.invoke(cli, ["keys", "list"])
    assert plain.exit_code == 0 and "csr2" in plain.output and "active" in plain.output

    r = runner.invoke(cli, ["keys", "revoke", "csr2"])
    assert r.exit_code == 0 and r.output.startswith("revoked csr2")
    csr_id = next(r["id"] for r in rows if r["name"] == "csr")
    assert runner.invoke(cli, ["keys", "revoke", csr_id]).exit_code == 0
    assert "revoked already" in runner.invoke(cli, ["keys", "revoke", "csr2"]).output
    with unit_of_work() as s:
        for name in ("csr", "csr2"):
            with pytest.raises(Exception, match="not valid"):
                auth_service.authenticate(s, keys[name])
        revoked = auth_service.key_events(s)
        assert [(e.type, e.actor, e.data["name"]) for e in revoked[:2]] == [
            ("key.revoked", "cli", "csr"),
            ("key.revoked", "cli", "csr2"),
        ]

    missing = runner.invoke(cli, ["keys", "revoke", "nobody"])
    assert missing.exit_code == 2 and "no key with the id or name 'nobody'" in missing.output
    last_admin = runner.invoke(cli, ["keys", "revoke", "admin"])
    assert last_admin.exit_code == 2 and "last active admin key" in last_admin.output


def test_no_part_of_a_key_is_stored(db):
    columns = {c["name"] for c in inspect(get_engine()).get_columns("api_keys")}
    assert "prefix" not in columns and "key_hash" in columns
    raw = "x" * 30
    with unit_of_work() as s:
        auth_service.create_key(s, "plain", "csr", raw_key=raw)
    with unit_of_work() as s:
        row = s.execute(select(ApiKey.__table__).where(ApiKey.name == "plain")).one()
    assert not any("xxxxxxxx" in str(value) for value in row)


def test_a_short_bootstrap_key_is_refused(db):
    with unit_of_work() as s, pytest.raises(InvalidInput, match="at least 24"):
        auth_service.ensure_bootstrap_admin(s, "short-but-23-characters")
    with unit_of_work() as s:
        assert s.scalar(select(ApiKey.id).where(ApiKey.role == "admin")) is None


@pytest.mark.parametrize("command", [["serve", "--port", "8851"], ["worker"]])
def test_serve_and_worker_stop_on_a_short_bootstrap_key_with_one_line(db, monkeypatch, command):
    from engine.config import get_settings

    monkeypatch.setenv("SIFT_BOOTSTRAP_ADMIN_KEY", "boot-1")
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli, command)
    finally:
        monkeypatch.delenv("SIFT_BOOTSTRAP_ADMIN_KEY")
        get_settings.cache_clear()
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert lines == [
        "error: SIFT_BOOTSTRAP_ADMIN_KEY is 6 characters long; use at least 24 (for example the output of: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
    ]


def test_dev_key_is_long_enough_for_a_bootstrap_key(tmp_path):
    r = CliRunner().invoke(cli, ["dev-key", str(tmp_path / "admin.key")])
    assert r.exit_code == 0
    auth_service.check_bootstrap_key(r.output.strip())
    assert len(r.output.strip()) >= auth_service.MIN_BOOTSTRAP_KEY_CHARS
