"""Rate limits: invalid keys per client address, and signals per key; both 429 with Retry-After
in the house error shape, and both free up again when the window has passed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.signals.models import Signal
from tests.helpers import auth, count, signal_body


@pytest.fixture
def limited(db, monkeypatch) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An app with small limits over a 3-second window (slow enough for a loaded machine) (the defaults are 20 and 6000 a minute)."""
    from api.app import create_app
    from engine.config import get_settings

    monkeypatch.setenv("SIFT_AUTH_FAILURE_RATE_LIMIT", "3 per 3 seconds")
    monkeypatch.setenv("SIFT_INGEST_RATE_LIMIT", "5 per 3 seconds")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as c:
            yield c
    finally:
        monkeypatch.delenv("SIFT_AUTH_FAILURE_RATE_LIMIT")
        monkeypatch.delenv("SIFT_INGEST_RATE_LIMIT")
        get_settings.cache_clear()


def _rate_limited(r) -> int:  # type: ignore[no-untyped-def]
    assert r.status_code == 429, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == "RateLimited"
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 3
    assert body["detail"].endswith(f"retry after {retry_after} s.")
    return retry_after


def test_repeated_bad_keys_from_one_address_get_429_and_it_resets(limited, keys):
    good_before = auth(keys["csr"])
    assert limited.get("/api/v1/cases", headers=good_before).status_code == 200
    for _ in range(3):
        assert limited.get("/api/v1/cases", headers=auth("guess-" + secrets.token_hex(8))).status_code == 401
    retry_after = _rate_limited(limited.get("/api/v1/cases", headers=auth("guess-again")))
    # refused before the check: a right guess, or a real key new to this address, is refused too
    _rate_limited(limited.get("/api/v1/cases", headers=auth(keys["supervisor"])))
    # a key that already worked from this address carries on (one guesser does not lock out a NAT)
    assert limited.get("/api/v1/cases", headers=good_before).status_code == 200
    # no key at all is no guess
    assert limited.get("/api/v1/cases").status_code == 401
    time.sleep(retry_after + 0.1)
    assert limited.get("/api/v1/cases", headers=auth("guess-after")).status_code == 401
    assert limited.get("/api/v1/cases", headers=auth(keys["supervisor"])).status_code == 200


def test_revoked_keys_count_as_bad_keys(limited, keys):
    admin = auth(keys["admin"])
    csr_id = next(
        i["id"] for i in limited.get("/api/v1/keys", headers=admin).json()["items"] if i["name"] == "csr"
    )
    assert limited.post(f"/api/v1/keys/{csr_id}/revoke", headers=admin).status_code == 200
    for _ in range(3):
        assert limited.get("/api/v1/cases", headers=auth(keys["csr"])).status_code == 401
    _rate_limited(limited.get("/api/v1/cases", headers=auth(keys["csr"])))


def test_ingest_is_limited_per_key_counting_signals_and_it_resets(limited, keys):
    integration = auth(keys["integration"])
    batch = {"signals": [signal_body(), signal_body(), signal_body()]}
    assert limited.post("/api/v1/signals:batch", json=batch, headers=integration).status_code == 202
    assert limited.post("/api/v1/signals", json=signal_body(), headers=integration).status_code == 202
    # 4 taken of 5: a batch of 2 does not fit and is refused whole, nothing stored
    stored = count(Signal)
    refused = limited.post(
        "/api/v1/signals:batch", json={"signals": [signal_body(), signal_body()]}, headers=integration
    )
    retry_after = _rate_limited(refused)
    assert "'integration' has sent more than 5 per 3 second" in refused.json()["detail"]
    assert count(Signal) == stored
    assert limited.post("/api/v1/signals", json=signal_body(), headers=integration).status_code == 202
    _rate_limited(limited.post("/api/v1/signals", json=signal_body(), headers=integration))
    # another key has its own allowance
    assert limited.post("/api/v1/signals", json=signal_body(), headers=auth(keys["admin"])).status_code == 202
    # a batch larger than the whole allowance can never pass: a 422 that says so, not a 429
    too_big = {"signals": [signal_body() for _ in range(6)]}
    r = limited.post("/api/v1/signals:batch", json=too_big, headers=auth(keys["admin"]))
    assert r.status_code == 422 and "send smaller batches" in r.json()["detail"]
    time.sleep(retry_after + 0.1)
    assert limited.post("/api/v1/signals", json=signal_body(), headers=integration).status_code == 202


def test_the_default_limits_are_generous(client, keys):
    from engine.config import Settings

    settings = Settings()
    assert settings.auth_failure_rate_limit == "20/minute"
    assert settings.ingest_rate_limit == "6000/minute"
    assert settings.rate_limit_storage == "memory://"
    batch = {"signals": [signal_body() for _ in range(1000)]}
    assert (
        client.post("/api/v1/signals:batch", json=batch, headers=auth(keys["integration"])).status_code == 202
    )


def test_a_bad_limit_setting_says_how_to_write_one():
    from pydantic import ValidationError

    from engine.config import Settings

    with pytest.raises(ValidationError, match="write it like '20/minute'"):
        Settings(ingest_rate_limit="lots")


def _redis_url() -> str:
    pytest.importorskip("redis")
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return url


def test_a_shared_redis_storage_counts_across_processes(db, keys, monkeypatch):
    """Two apps (as two API processes) sharing Redis share one allowance per key."""
    from api.app import create_app
    from engine.auth import service as auth_service
    from engine.config import get_settings
    from engine.db import unit_of_work

    monkeypatch.setenv("SIFT_RATE_LIMIT_STORAGE", _redis_url())
    monkeypatch.setenv("SIFT_INGEST_RATE_LIMIT", "3 per 3 seconds")
    get_settings.cache_clear()
    name = "redis-" + secrets.token_hex(6)  # a fresh holder, so earlier runs' counts do not matter
    with unit_of_work() as s:
        _, raw = auth_service.create_key(s, name, "integration")
    try:
        with (
            TestClient(create_app(), raise_server_exceptions=False) as one,
            TestClient(create_app(), raise_server_exceptions=False) as two,
        ):
            assert one.post("/api/v1/signals", json=signal_body(), headers=auth(raw)).status_code == 202
            assert two.post("/api/v1/signals", json=signal_body(), headers=auth(raw)).status_code == 202
            assert one.post("/api/v1/signals", json=signal_body(), headers=auth(raw)).status_code == 202
            _rate_limited(two.post("/api/v1/signals", json=signal_body(), headers=auth(raw)))
    finally:
        monkeypatch.delenv("SIFT_RATE_LIMIT_STORAGE")
        monkeypatch.delenv("SIFT_INGEST_RATE_LIMIT")
        get_settings.cache_clear()


def test_an_unreachable_storage_lets_requests_through(db, keys, monkeypatch, caplog):
    """A rate-limit store that is down must not take the API down: requests pass, one warning."""
    pytest.importorskip("redis")
    from api.app import create_app
    from engine.config import get_settings

    monkeypatch.setenv("SIFT_RATE_LIMIT_STORAGE", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as c:
            for _ in range(2):
                assert (
                    c.post(
                        "/api/v1/signals", json=signal_body(), headers=auth(keys["integration"])
                    ).status_code
                    == 202
                )
                assert c.get("/api/v1/cases", headers=auth("bad-key")).status_code == 401
    finally:
        monkeypatch.delenv("SIFT_RATE_LIMIT_STORAGE")
        get_settings.cache_clear()
    warnings = [r for r in caplog.records if "rate-limit storage unreachable" in r.getMessage()]
    assert len(warnings) == 1
