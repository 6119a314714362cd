"""Assisted replies against a fake OpenAI-compatible endpoint on 127.0.0.1: what it receives is
redacted, what comes back has the personal data restored, the timeline marks the draft."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.config import get_settings
from tests.helpers import auth, drain, signal_body

EMAIL, PHONE = "jane.doe@example.com", "+44 20 7946 0958"
TEXT = f"@acme order A12345 never arrived. Write to {EMAIL} or call {PHONE}, or {EMAIL} again"


@pytest.fixture
def fake_model() -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {"requests": [], "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["requests"].append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            # a model that keeps the placeholders, as told
            user = body["messages"][-1]["content"]
            placeholders = sorted({w.strip(".,") for w in user.split() if w.startswith("[")})
            content = json.dumps(
                {"summary": "Lost parcel A12345.", "draft": "We will write to " + " and ".join(placeholders)}
            )
            out = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
            self.send_response(seen["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def assist_on(fake_model, monkeypatch):
    monkeypatch.setenv("SIFT_ASSIST_URL", fake_model["url"])
    monkeypatch.setenv("SIFT_ASSIST_MODEL", "local-test-model")
    monkeypatch.setenv("SIFT_ASSIST_KEY", "assist-secret")
    get_settings.cache_clear()
    yield fake_model
    monkeypatch.undo()
    get_settings.cache_clear()


def _case(client, keys) -> str:
    r = client.post("/api/v1/signals", json=signal_body(text=TEXT), headers=auth(keys["integration"]))
    drain()
    return client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["csr"])).json()["case_id"]


def test_assisted_replies_are_off_by_default(client, keys):
    case_id = _case(client, keys)
    r = client.post(f"/api/v1/cases/{case_id}/draft", headers=auth(keys["csr"]))
    assert r.status_code == 409 and r.json()["error"] == "AssistOff"


def test_personal_data_is_redacted_before_it_leaves_and_restored_in_the_draft(client, keys, assist_on):
    case_id = _case(client, keys)
    r = client.post(f"/api/v1/cases/{case_id}/draft", headers=auth(keys["csr"]))
    assert r.status_code == 200, r.text
    [sent] = assist_on["requests"]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer assist-secret"
    assert sent["body"]["model"] == "local-test-model"
    wire = json.dumps(sent["body"])
    assert EMAIL not in wire and PHONE not in wire and "jane" not in wire.lower()
    assert (
        "[EMAIL_1]" in wire and "[PHONE_1]" in wire and "[EMAIL_2]" not in wire
    )  # one value, one placeholder
    assert "A12345" in wire  # order ids are not personal data unless configured
    answer = r.json()
    assert EMAIL in answer["draft"] and PHONE in answer["draft"] and "[" not in answer["draft"]
    assert answer["redacted"] == 2 and answer["summary"] == "Lost parcel A12345."
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]
    drafted = [e for e in timeline if e["type"] == "reply.drafted"]
    assert drafted == [drafted[0]] and drafted[0]["actor"] == "csr"
    assert drafted[0]["data"] == {"model": "local-test-model", "redacted": 2}
    replies = client.get(f"/api/v1/replies?case_id={case_id}", headers=auth(keys["csr"])).json()["items"]
    assert replies == []  # a draft is never sent


def test_order_ids_are_redacted_where_configured(client, keys, assist_on, monkeypatch):
    monkeypatch.setenv("SIFT_ASSIST_PII_LABELS", "EMAIL,PHONE,ORDER_ID")
    get_settings.cache_clear()
    case_id = _case(client, keys)
    r = client.post(f"/api/v1/cases/{case_id}/draft", headers=auth(keys["csr"]))
    assert r.status_code == 200
    wire = json.dumps(assist_on["requests"][-1]["body"])
    assert "A12345" not in wire and "[ORDER_ID_1]" in wire


def test_a_failing_endpoint_is_a_clear_error_and_no_draft_is_recorded(client, keys, assist_on):
    case_id = _case(client, keys)
    assist_on["status"] = 500
    r = client.post(f"/api/v1/cases/{case_id}/draft", headers=auth(keys["csr"]))
    assert r.status_code == 502 and r.json()["error"] == "AssistUnavailable"
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth(keys["csr"])).json()["items"]
    assert "reply.drafted" not in {e["type"] for e in timeline}
    assert client.post(f"/api/v1/cases/{case_id}/draft", headers=auth(keys["integration"])).status_code == 403
    assert client.post("/api/v1/cases/nope/draft", headers=auth(keys["csr"])).status_code == 404
