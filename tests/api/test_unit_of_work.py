"""A request is one transaction: the key check and the work share it, the commit happens before
the response is sent, and a commit that fails is an error response with nothing kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text

from api.deps import DbSession
from engine.auth import service as auth_service
from engine.auth.models import ApiKey
from engine.db import get_engine, unit_of_work
from engine.errors import InvalidInput
from tests.helpers import auth


def _key_exists(name: str) -> bool:
    with unit_of_work() as s:
        return s.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None


@pytest.fixture
def probe_client(app):  # type: ignore[no-untyped-def]
    """The app with two extra routes that write a key and then fail, at commit or in the service."""

    @app.post("/probe/commit-fails")
    def commit_fails(session: DbSession) -> dict[str, str]:
        auth_service.create_key(session, "written-then-lost", "csr")
        # a constraint checked only at COMMIT (both SQLite and PostgreSQL defer it as declared)
        session.execute(text("CREATE TEMP TABLE IF NOT EXISTS probe_parent (id INTEGER PRIMARY KEY)"))
        session.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS probe_child (id INTEGER PRIMARY KEY, parent_id INTEGER "
                "REFERENCES probe_parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        session.execute(text("INSERT INTO probe_child (id, parent_id) VALUES (1, 42)"))
        return {"status": "looked fine"}

    @app.post("/probe/service-fails")
    def service_fails(session: DbSession) -> dict[str, str]:
        auth_service.create_key(session, "written-then-refused", "csr")
        raise InvalidInput("refused after writing")

    @app.post("/probe/flush-fails")
    def flush_fails(session: DbSession) -> dict[str, str]:
        auth_service.create_key(session, "written-before-the-clash", "csr")
        # what two requests creating the same name do when both pass the existence check: the
        # second one's flush meets the unique index
        session.add(ApiKey(name="written-before-the-clash", role="csr", key_hash="x" * 64))
        session.flush()
        return {"status": "looked fine"}

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_a_commit_that_fails_is_an_error_response_and_keeps_nothing(probe_client, db):
    r = probe_client.post("/probe/commit-fails")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "Conflict"
    assert not _key_exists("written-then-lost")


def test_a_constraint_refusing_a_flush_inside_the_endpoint_is_a_conflict_and_keeps_nothing(probe_client, db):
    r = probe_client.post("/probe/flush-fails")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "Conflict"
    assert not _key_exists("written-before-the-clash")


def test_racing_creates_of_one_name_make_one_key_and_conflicts(client, keys):
    import threading

    barrier = threading.Barrier(6)
    codes: list[int] = []

    def create() -> None:
        barrier.wait()
        r = client.post("/api/v1/keys", json={"name": "raced", "role": "csr"}, headers=auth(keys["admin"]))
        codes.append(r.status_code)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [201] + [409] * 5


def test_a_commit_that_raises_anything_is_an_error_response(client, keys, monkeypatch):
    from sqlalchemy.orm import Session

    def refuse(session: Session) -> None:
        raise RuntimeError("disk full")

    event.listen(Session, "before_commit", refuse)
    try:
        r = client.post("/api/v1/keys", json={"name": "never", "role": "csr"}, headers=auth(keys["admin"]))
    finally:
        event.remove(Session, "before_commit", refuse)
    assert r.status_code == 500 and r.json()["error"] == "InternalError"
    assert not _key_exists("never")


def test_a_service_error_rolls_back_what_the_request_wrote(probe_client, db):
    r = probe_client.post("/probe/service-fails")
    assert r.status_code == 422 and r.json()["detail"] == "refused after writing"
    assert not _key_exists("written-then-refused")


def test_a_request_is_one_transaction(client, keys):
    begun: list[object] = []

    def count(conn: object) -> None:
        begun.append(conn)

    engine = get_engine()
    event.listen(engine, "begin", count)
    try:
        assert client.get("/api/v1/cases", headers=auth(keys["csr"])).status_code == 200
        assert len(begun) == 1
        r = client.post("/api/v1/keys", json={"name": "one-tx", "role": "csr"}, headers=auth(keys["admin"]))
        assert r.status_code == 201
        assert len(begun) == 2
    finally:
        event.remove(engine, "begin", count)
    assert _key_exists("one-tx")
