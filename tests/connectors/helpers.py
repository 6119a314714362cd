"""Creating connectors through the API, running them, and taking their mentions to a reply."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.connectors import service as connectors
from engine.db import unit_of_work
from engine.signals.models import Signal
from tests.helpers import auth, drain


def create(client: Any, keys: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/connectors", json=body, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    return r.json()


def run(name: str, seconds: float = 1.0) -> connectors.Outcome:
    (outcome,) = connectors.run_due(only=[name], force=True, stream_seconds=seconds)
    return outcome


def signals(source: str) -> dict[str, Signal]:
    with unit_of_work() as s:
        rows = list(s.scalars(select(Signal).where(Signal.source == source)))
        for row in rows:
            s.expunge(row)
    return {row.external_id: row for row in rows}


def status(client: Any, keys: dict[str, str], connector_id: str) -> dict[str, Any]:
    return client.get(f"/api/v1/connectors/{connector_id}", headers=auth(keys["admin"])).json()


def respond(client: Any, keys: dict[str, str], case_id: str, text: str) -> None:
    csr = auth(keys["csr"])
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=csr).status_code == 200
    for data in ({"action": "respond"}, {"reply": text}):
        task = client.get(f"/api/v1/cases/{case_id}", headers=csr).json()["tasks"][0]
        done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=csr)
        assert done.status_code == 200, done.text


def case_of(source: str, external_id: str) -> str:
    drain()
    case_id = signals(source)[external_id].case_id
    assert case_id, f"{external_id} opened no case"
    return case_id


def replies(client: Any, keys: dict[str, str], case_id: str) -> list[dict[str, Any]]:
    return client.get("/api/v1/replies", params={"case_id": case_id}, headers=auth(keys["csr"])).json()[
        "items"
    ]
