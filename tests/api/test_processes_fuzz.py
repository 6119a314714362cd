"""Mutated and truncated definitions through the upload endpoint: never a 5xx, never half-stored."""

from __future__ import annotations

import random
from pathlib import Path

from engine.processes.models import ProcessDefinition, ProcessVersion
from engine.runtime.parser import UNCHECKED
from tests.helpers import DATA, auth, count

SEEDS = [
    DATA / "processes" / "modeler_collaboration.bpmn",
    Path(__file__).resolve().parents[2] / "processes" / "reactive_case.bpmn",
    Path(__file__).resolve().parents[2] / "processes" / "routing.dmn",
]
SNIPPETS = [
    b"<",
    b">",
    b"&",
    b'"',
    b"\x00",
    b"\xff\xfe",
    b"]]>",
    b"__class__",
    b"PT4H",
    b"<!DOCTYPE x>",
    b"\xe9",
    b"{",
    b"'",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    at = rng.randrange(len(data))
    if kind == 0:
        return data[:at]
    if kind == 1:
        return data[:at] + rng.choice(SNIPPETS) + data[at:]
    if kind == 2:
        end = min(len(data), at + rng.randrange(1, 200))
        return data[:at] + data[end:]
    if kind == 3:
        flipped = bytearray(data)
        for _ in range(rng.randrange(1, 8)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped)
    other = data[rng.randrange(len(data)) :][: rng.randrange(1, 400)]
    return data[:at] + other + data[at:]


def test_mutated_uploads_never_fail_the_server_or_store_half(client, keys):
    rng = random.Random(20261122)
    sources = [p.read_bytes() for p in SEEDS]
    statuses: dict[int, int] = {}
    for _ in range(200):
        versions_before = count(ProcessVersion)
        definitions_before = count(ProcessDefinition)
        data = mutate(rng.choice(sources), rng)
        r = client.post(
            "/api/v1/processes", files={"file": ("f.bpmn", data)}, headers=auth(keys["process_owner"])
        )
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, r.text
        body = r.json()
        assert UNCHECKED not in str(body), body
        if r.status_code >= 400:
            assert body["error"] and body["detail"]
            assert (count(ProcessVersion), count(ProcessDefinition)) == (versions_before, definitions_before)
        else:
            assert count(ProcessVersion) == versions_before + (1 if r.status_code == 201 else 0)
    assert statuses.get(422, 0) > 50
