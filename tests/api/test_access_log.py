"""The access log: one line per request with method, path, status, time and key holder; never the
key, the body, the query or mention text."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.helpers import auth, signal_body

SECRET_TEXT = "my card 4111 and my home address"


@pytest.fixture
def access(caplog):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="sift.access")

    def lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "sift.access"]

    return lines


def test_one_line_per_request_with_the_fields_and_no_secrets(client, keys, access):
    key = keys["integration"]
    r = client.post("/api/v1/signals", json=signal_body(text=SECRET_TEXT), headers=auth(key))
    assert r.status_code == 202
    r = client.get("/api/v1/cases", params={"q": SECRET_TEXT}, headers=auth(keys["csr"]))
    assert r.status_code == 200
    posted, listed = access()
    assert posted.getMessage().startswith("method=POST path=/api/v1/signals status=202 ms=")
    assert posted.getMessage().endswith(" key=integration")
    assert (posted.method, posted.path, posted.status, posted.key_name) == (
        "POST",
        "/api/v1/signals",
        202,
        "integration",
    )
    assert posted.duration_ms >= 0
    assert listed.getMessage().startswith("method=GET path=/api/v1/cases status=200 ")
    assert listed.key_name == "csr"
    for record in (posted, listed):
        message = record.getMessage()
        assert "card" not in message and "4111" not in message and "q=" not in message
        for raw in keys.values():
            assert raw not in message and raw[:8] not in message


def test_refusals_are_logged_with_no_key_name(client, keys, access):
    assert client.get("/api/v1/cases", headers=auth("wrong-key-value")).status_code == 401
    assert client.get("/api/v1/cases", headers=auth(keys["integration"])).status_code == 403
    huge = b"x" * (1_048_576 + 1)
    assert client.post("/api/v1/signals", content=huge, headers=auth(keys["integration"])).status_code == 413
    assert client.get("/healthz").status_code == 200
    got = [(r.method, r.path, r.status, r.key_name) for r in access()]
    assert got == [
        ("GET", "/api/v1/cases", 401, None),
        ("GET", "/api/v1/cases", 403, "integration"),
        ("POST", "/api/v1/signals", 413, None),
        ("GET", "/healthz", 200, None),
    ]
    assert access()[0].getMessage().endswith(" key=-")
    assert "wrong-key-value" not in " ".join(r.getMessage() for r in access())


def test_a_crash_is_logged_as_500(app, access):
    @app.get("/probe/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/probe/crash").status_code == 500
    assert [(r.path, r.status) for r in access()] == [("/probe/crash", 500)]


def test_the_path_is_logged_as_sent_and_without_the_query(client, keys, access):
    client.get("/api/v1/cases/a%20b%0Ac?assignee=me", headers=auth(keys["csr"]))
    (line,) = access()
    assert line.path == "/api/v1/cases/a%20b%0Ac"
    assert "\n" not in line.getMessage() and "assignee" not in line.getMessage()


def test_serve_turns_uvicorns_own_access_log_off(db, monkeypatch):
    """sift serve hands uvicorn access_log=False, so each request is logged once, by Sift."""
    import uvicorn
    from typer.testing import CliRunner

    from api.cli import app as cli

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    r = CliRunner().invoke(cli, ["serve", "--no-worker", "--port", "8852"])
    assert r.exit_code == 0, r.output
    assert seen["access_log"] is False
