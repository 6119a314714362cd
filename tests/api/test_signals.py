"""The signals inbox as another service sees it."""

from __future__ import annotations

import json
import threading

from engine.signals.models import Signal
from tests.helpers import auth, count, signal_body


def test_post_returns_202_and_the_text_comes_back_exactly(client, keys):
    body = signal_body(text="@acme naïve café — my order A12345 never arrived 😡🔥 \u200d")
    r = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
    assert r.status_code == 202
    assert r.json()["duplicate"] is False and r.json()["status"] == "pending"
    got = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    assert got["text"] == body["text"]
    assert got["author"]["handle"] == body["author"]["handle"]


def test_repost_is_idempotent(client, keys):
    body = signal_body()
    first = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
    again = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "status": "pending", "duplicate": True}
    assert count(Signal) == 1


def test_concurrent_duplicate_posts_store_one_signal(client, keys):
    body = signal_body()
    results: list[tuple[int, str]] = []

    def post() -> None:
        r = client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
        results.append((r.status_code, r.json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for code, _ in results) == [200] * 7 + [202]
    assert len({sid for _, sid in results}) == 1
    assert count(Signal) == 1


def test_batch_keeps_order_and_isolates_bad_items(client, keys):
    good = signal_body()
    items = [good, {"source": "twitter"}, "not an object", good, signal_body(text="")]
    r = client.post("/api/v1/signals:batch", json={"signals": items}, headers=auth(keys["integration"]))
    assert r.status_code == 202
    results = r.json()["results"]
    assert len(results) == 5
    assert results[0]["duplicate"] is False
    assert results[1]["error"] == "ValidationFailed"
    assert {f["field"] for f in results[1]["fields"]} >= {"external_id", "text"}
    assert results[2]["error"] == "ValidationFailed"
    assert results[3] == {"id": results[0]["id"], "status": "pending", "duplicate": True}
    assert results[4]["error"] == "ValidationFailed"
    assert count(Signal) == 1


def test_batch_over_1000_items_is_refused_whole(client, keys):
    items = [signal_body() for _ in range(1001)]
    r = client.post("/api/v1/signals:batch", json={"signals": items}, headers=auth(keys["integration"]))
    assert r.status_code == 422
    assert count(Signal) == 0


def _post_raw(client, key, raw: bytes):
    return client.post(
        "/api/v1/signals", content=raw, headers={**auth(key), "Content-Type": "application/json"}
    )


def test_bad_input_gets_a_clear_4xx_and_writes_nothing(client, keys):
    key = keys["integration"]
    cases = {
        "malformed": (b"{not json", 400, "MalformedJson"),
        "invalid utf-8": (b'\xff\xfe{"a"', 400, "MalformedJson"),
        "missing fields": (b'{"source": "twitter"}', 422, "ValidationFailed"),
        "wrong types": (b'{"source": 5, "external_id": [], "text": {}}', 422, "ValidationFailed"),
        "array body": (b"[1, 2]", 422, "ValidationFailed"),
        "NUL in text": (json.dumps(signal_body(text="a\u0000b")).encode(), 422, "UnstorableValue"),
        "lone surrogate": (b'{"source":"x","external_id":"1","text":"\\ud800"}', 422, "ValidationFailed"),
        "naive time": (
            json.dumps(signal_body(created_at="2026-11-22T10:00:00")).encode(),
            422,
            "ValidationFailed",
        ),
        "negative followers": (
            json.dumps(signal_body(author={"handle": "@x", "followers": -1})).encode(),
            422,
            "ValidationFailed",
        ),
    }
    for name, (raw, status, code) in cases.items():
        r = _post_raw(client, key, raw)
        assert r.status_code == status, name
        assert r.json()["error"] == code, name
        assert r.json()["detail"], name
    r = _post_raw(client, key, b'{"source": 5, "external_id": [], "text": {}}')
    assert {f["field"] for f in r.json()["fields"]} == {"source", "external_id", "text"}
    assert count(Signal) == 0


def test_oversized_bodies_get_413(client, keys):
    r = _post_raw(client, keys["integration"], b'{"text": "' + b"a" * 2_000_000 + b'"}')
    assert r.status_code == 413
    assert r.json()["error"] == "PayloadTooLarge"
    one_mb_text = json.dumps(signal_body(text="é" * 600_000)).encode()
    r = _post_raw(client, keys["integration"], one_mb_text)
    assert r.status_code == 413
    assert count(Signal) == 0


def test_long_text_under_the_body_limit_is_refused_by_field(client, keys):
    r = client.post("/api/v1/signals", json=signal_body(text="a" * 20_001), headers=auth(keys["integration"]))
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"] == "text"


def test_unknown_signal_is_404(client, keys):
    r = client.get("/api/v1/signals/nope", headers=auth(keys["csr"]))
    assert r.status_code == 404 and r.json()["error"] == "NotFound"


def test_nul_characters_anywhere_get_a_4xx_not_a_crash(client, keys):
    from tests.helpers import drain

    csr = auth(keys["csr"])
    for path in (
        "/api/v1/cases?q=%00",
        "/api/v1/cases?topic=a%00b",
        "/api/v1/customers?handle=%00",
        "/api/v1/tasks/%00",
    ):
        r = client.get(path, headers=csr)
        assert r.status_code == 400 and r.json()["error"] == "InvalidCharacters", path
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    case_id = client.get(f"/api/v1/signals/{r.json()['id']}", headers=csr).json()["case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/comments", json={"body": "a\u0000b"}, headers=csr)
    assert r.status_code == 422 and r.json()["error"] == "UnstorableValue"
    task_id = client.get(f"/api/v1/cases/{case_id}", headers=csr).json()["tasks"][0]["id"]
    r = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"action": "respond", "topic": "x\u0000"}},
        headers=csr,
    )
    assert r.status_code == 422 and r.json()["error"] == "UnstorableValue"
    assert client.get(f"/api/v1/tasks/{task_id}", headers=csr).json()["status"] == "open"  # nothing written
    literal = "a literal \\u0000, not a NUL"
    r = client.post(f"/api/v1/cases/{case_id}/comments", json={"body": literal}, headers=csr)
    assert r.status_code == 201 and r.json()["body"] == literal


def test_unknown_top_level_fields_are_refused_by_name(client, keys):
    body = signal_body()
    posted_at = body.pop("created_at")
    r = client.post(
        "/api/v1/signals",
        json={**body, "posted_at": posted_at, "Source": "x"},
        headers=auth(keys["integration"]),
    )
    assert r.status_code == 422
    got = r.json()
    assert got["error"] == "ValidationFailed"
    assert {f["field"] for f in got["fields"]} == {"posted_at", "Source"}
    assert all(f["message"] == "Extra inputs are not permitted" for f in got["fields"])
    assert "posted_at" in got["detail"] and "Source" in got["detail"]
    assert count(Signal) == 0
    # reported beside the other mistakes of the same body, not one round trip at a time
    r = client.post(
        "/api/v1/signals",
        json={**body, "text": "", "posted_at": posted_at},
        headers=auth(keys["integration"]),
    )
    assert {f["field"] for f in r.json()["fields"]} == {"text", "posted_at"}


def test_author_attributes_beyond_the_documented_ones_are_kept(client, keys):
    author = {"handle": "@jane", "followers": 1200, "avatar_url": "https://x/a.png", "location": "Leeds"}
    r = client.post("/api/v1/signals", json=signal_body(author=author), headers=auth(keys["integration"]))
    assert r.status_code == 202
    got = client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()
    assert got["author"] == author


def test_batch_item_with_unknown_fields_gets_its_own_error(client, keys):
    good, other = signal_body(), signal_body()
    stray = {**signal_body(), "posted_at": "2026-11-22T10:00:00Z"}
    r = client.post(
        "/api/v1/signals:batch", json={"signals": [good, stray, other]}, headers=auth(keys["integration"])
    )
    assert r.status_code == 202
    first, bad, last = r.json()["results"]
    assert first["status"] == last["status"] == "pending"
    assert bad["error"] == "ValidationFailed"
    assert bad["fields"] == [{"field": "posted_at", "message": "Extra inputs are not permitted"}]
    assert bad["detail"] == "Item 1 is invalid: posted_at."
    assert count(Signal) == 2


def _post_encoded(client, key, raw: bytes, **headers: str):
    return client.post("/api/v1/signals", content=raw, headers={**auth(key), **headers})


def test_a_gzip_or_deflate_body_is_taken_uncompressed(client, keys):
    import zlib

    key = keys["integration"]
    one = json.dumps(signal_body(external_id="gz-1")).encode()
    two = json.dumps(signal_body(external_id="deflate-1")).encode()
    gz = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    r = _post_encoded(
        client,
        key,
        gz.compress(one) + gz.flush(),
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 202, r.text
    r = _post_encoded(
        client, key, zlib.compress(two), **{"Content-Type": "application/json", "Content-Encoding": "deflate"}
    )
    assert r.status_code == 202, r.text
    assert count(Signal) == 2


def test_compressed_bodies_that_cannot_be_taken_get_clear_errors_and_write_nothing(client, keys):
    import zlib

    key = keys["integration"]
    bomb = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    inflating = bomb.compress(b'{"text": "' + b"a" * 50_000_000 + b'"}') + bomb.flush()
    assert len(inflating) < 1_048_576
    json_type = {"Content-Type": "application/json"}
    r = _post_encoded(client, key, inflating, **json_type, **{"Content-Encoding": "gzip"})
    assert (r.status_code, r.json()["error"]) == (413, "PayloadTooLarge")
    assert "uncompressed" in r.json()["detail"]
    r = _post_encoded(client, key, b"not gzip at all", **json_type, **{"Content-Encoding": "gzip"})
    assert (r.status_code, r.json()["error"]) == (400, "BadRequest")
    truncated = zlib.compress(json.dumps(signal_body()).encode())[:-6]
    r = _post_encoded(client, key, truncated, **json_type, **{"Content-Encoding": "deflate"})
    assert r.status_code == 400
    r = _post_encoded(client, key, b"\x1b\x00", **json_type, **{"Content-Encoding": "br"})
    assert (r.status_code, r.json()["error"]) == (415, "UnsupportedMediaType")
    assert "'br'" in r.json()["detail"]
    assert count(Signal) == 0


def test_wide_unicode_and_non_json_bodies_are_named_for_what_they_are(client, keys):
    key = keys["integration"]
    body = json.dumps(signal_body())
    for encoding in ("utf-16", "utf-16-le", "utf-32-be"):
        r = _post_encoded(client, key, body.encode(encoding), **{"Content-Type": "application/json"})
        assert (r.status_code, r.json()["error"]) == (400, "MalformedJson"), encoding
        assert "UTF-8" in r.json()["detail"]
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = _post_encoded(client, key, body.encode(), **{"Content-Type": content_type})
        assert (r.status_code, r.json()["error"]) == (415, "UnsupportedMediaType"), content_type
        assert "application/json" in r.json()["detail"] and content_type in r.json()["detail"]
    r = _post_encoded(client, key, body.encode(), **{"Content-Type": "application/vnd.api+json"})
    assert r.status_code == 202
    assert count(Signal) == 1


def test_json_nested_past_the_parser_s_depth_is_a_clear_400(client, keys):
    deep = (
        b'{"source": "twitter", "external_id": "deep", "text": "x", "meta": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}"
    )
    r = _post_raw(client, keys["integration"], deep)
    assert (r.status_code, r.json()["error"]) == (400, "MalformedJson")
    assert "nested too deeply" in r.json()["detail"]
    assert count(Signal) == 0
