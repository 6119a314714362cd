"""The demo's care team: a few CSR keys in the queues the shipped routing fills, so a running
demo shows people with load, capacity and presence on the board and cases handed out, and the
admin key that started it in those queues too, so Next gives it work.

Made through the JSON API with the admin key, as a person would (``sift demo`` calls
:func:`set_up` before its stream). The CSRs' keys are never shown: they exist for the board and
for round-robin, and anyone who wants to sign in as a CSR mints their own with
``sift keys create``. Run again on the same data, it leaves the team as it finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Member:
    name: str
    queues: tuple[str, ...]
    capacity: int
    away: bool = False


TEAM = (
    Member("ana", ("care", "social"), capacity=4),
    Member("ben", ("care", "sales"), capacity=4),
    Member("chen", ("care", "multilingual"), capacity=3),
    Member("dana", ("care", "social"), capacity=4, away=True),
)
#: the queues the shipped routing (processes/routing.dmn) sends cases a person works to
QUEUES = ("care", "social", "sales", "multilingual")
#: handed out in turn to the members with room; the rest wait for Next
ROUND_ROBIN = ("care", "social")


@dataclass(frozen=True)
class SetUp:
    created: list[str]  # the members made now (none: the team was there already)
    admin_queues: list[str]
    problem: str | None = None  # why there is no team (the key may not make keys)


def set_up(client: httpx.Client) -> SetUp:
    """Makes the members missing from the keys; when it made any, sets their capacity and
    presence and the round-robin queues. Adds :data:`QUEUES` to the calling admin's queues."""
    listed = client.get("/api/v1/keys")
    if listed.status_code != 200:
        return SetUp([], [], f"the key cannot list keys ({listed.status_code}); no demo team")
    have = {k["name"] for k in listed.json()["items"] if k["revoked_at"] is None}
    created: list[str] = []
    for member in TEAM:
        if member.name in have:
            continue
        made = client.post(
            "/api/v1/keys", json={"name": member.name, "role": "csr", "queues": list(member.queues)}
        )
        if made.status_code != 201:
            return SetUp(created, [], f"making {member.name} failed: {made.status_code} {made.text[:200]}")
        created.append(member.name)  # its key is in the answer and goes no further
        _ok(
            client.patch(
                f"/api/v1/agents/{member.name}", json={"capacity": member.capacity, "away": member.away}
            )
        )
    if created:
        for queue in ROUND_ROBIN:
            _ok(client.put(f"/api/v1/queues/{queue}", json={"strategy": "round_robin"}))
    mine = client.patch("/api/v1/agents/me", json={})  # changes nothing: says which queues it has
    _ok(mine)
    wanted = sorted({*mine.json()["queues"], *QUEUES})
    me = client.patch("/api/v1/agents/me", json={"queues": wanted})
    _ok(me)
    return SetUp(created, list(me.json()["queues"]))


def _ok(r: httpx.Response) -> None:
    if r.status_code >= 400:
        raise RuntimeError(
            f"demo team: {r.request.method} {r.request.url.path} answered {r.status_code} {r.text[:200]}"
        )
