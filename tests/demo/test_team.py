"""The demo's team, made through the API as `sift demo` makes it: CSRs in the routed queues with
capacity and presence, round-robin hand-out, and the admin key able to take work with Next."""

from __future__ import annotations

from engine.demo import team
from tests.helpers import auth, drain, signal_body


def test_the_demo_makes_a_team_once_and_the_admin_takes_work_with_next(client, keys):
    client.headers.update(auth(keys["admin"]))
    made = team.set_up(client)
    assert made.problem is None and made.created == ["ana", "ben", "chen", "dana"]
    assert set(team.QUEUES) <= set(made.admin_queues)
    agents = {a["name"]: a for a in client.get("/api/v1/agents").json()["items"]}
    assert {n: (a["capacity"], a["away"]) for n, a in agents.items() if n in made.created} == {
        "ana": (4, False),
        "ben": (4, False),
        "chen": (3, False),
        "dana": (4, True),
    }
    assert agents["chen"]["queues"] == ["care", "multilingual"]
    queues = {q["name"]: q["strategy"] for q in client.get("/api/v1/queues").json()["items"]}
    assert queues["care"] == queues["social"] == "round_robin"
    listed = client.get("/api/v1/keys").text
    assert listed.count('"name":"ana"') == 1

    # a person changed the team: running the demo again leaves it as it is
    assert client.patch("/api/v1/agents/dana", json={"away": False}).status_code == 200
    again = team.set_up(client)
    assert again.created == [] and again.problem is None
    dana = [a for a in client.get("/api/v1/agents").json()["items"] if a["name"] == "dana"]
    assert [a["away"] for a in dana] == [False]

    # care hands its cases out in turn to those with room; the admin takes one with Next
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    assert r.status_code == 202
    drain()
    case_id = client.get(f"/api/v1/signals/{r.json()['id']}").json()["case_id"]
    held = client.get(f"/api/v1/cases/{case_id}").json()["assignee"]
    assert held in ("ana", "ben", "chen", "dana")
    assert client.post(f"/api/v1/cases/{case_id}/release").status_code == 200
    taken = client.post("/api/v1/tasks:next")
    assert taken.status_code == 200, taken.text
    assert taken.json()["case_id"] == case_id
    assert client.get(f"/api/v1/cases/{case_id}").json()["assignee"] == "admin"


def test_a_key_that_may_not_make_keys_gets_no_team_and_says_why(client, keys):
    client.headers.update(auth(keys["integration"]))
    made = team.set_up(client)
    assert made.created == [] and "cannot list keys (403)" in (made.problem or "")
