"""Filtering, sorting and paging the case list."""

from __future__ import annotations

from tests.helpers import auth, drain, signal_body


def _seed(client, keys, n: int) -> None:
    items = [
        signal_body(
            author={"handle": f"@user{i}", "followers": 10},
            text=f"@acme order A1000{i} never arrived, still waiting",
        )
        for i in range(n)
    ]
    r = client.post("/api/v1/signals:batch", json={"signals": items}, headers=auth(keys["integration"]))
    assert r.status_code == 202
    drain()


def test_cursor_pages_cover_every_case_once(client, keys):
    _seed(client, keys, 7)
    csr = auth(keys["csr"])
    for sort in ("sla_due", "-created_at", "priority", "created_at"):
        seen: list[str] = []
        cursor = None
        while True:
            url = f"/api/v1/cases?limit=3&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(url, headers=csr).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == 7 and len(set(seen)) == 7, sort
    created = [
        c["created_at"] for c in client.get("/api/v1/cases?sort=-created_at", headers=csr).json()["items"]
    ]
    assert created == sorted(created, reverse=True)


def test_filters_and_bad_parameters(client, keys):
    _seed(client, keys, 3)
    csr = auth(keys["csr"])
    assert len(client.get("/api/v1/cases?status=open", headers=csr).json()["items"]) == 3
    assert client.get("/api/v1/cases?status=resolved", headers=csr).json()["items"] == []
    assert len(client.get("/api/v1/cases?sla=on_track", headers=csr).json()["items"]) == 3
    assert client.get("/api/v1/cases?sla=breached", headers=csr).json()["items"] == []
    assert len(client.get("/api/v1/cases?q=A10001", headers=csr).json()["items"]) == 1
    assert client.get("/api/v1/cases?sort=colour", headers=csr).status_code == 400
    assert client.get("/api/v1/cases?cursor=garbage", headers=csr).json()["error"] == "InvalidCursor"
    assert client.get("/api/v1/cases?sla=late", headers=csr).status_code == 422
    assert client.get("/api/v1/cases?limit=0", headers=csr).status_code == 422
