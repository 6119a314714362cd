"""`sift replay FILE`: a file of historical mentions goes through the HTTP API in event-time
order and the trends it caused are listed; a bad file is refused naming the line and field."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from tests.trends import stream

runner = CliRunner()


@pytest.fixture
def served(db, keys, monkeypatch):  # type: ignore[no-untyped-def]
    """A Sift with its worker running in process; the CLI's HTTP client talks to it."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(run_worker=True), raise_server_exceptions=False) as client:

        class Borrowed:  # the CLI's `with httpx.Client(...)` must not close the app's client
            def __init__(self, **kwargs: object) -> None:
                client.headers.update(kwargs.get("headers") or {})  # type: ignore[arg-type]

            def __enter__(self) -> httpx.Client:
                return client

            def __exit__(self, *exc: object) -> None:
                return None

        connect = Borrowed

        monkeypatch.setattr("api.cli.httpx.Client", connect)
        yield keys


def test_replay_posts_in_event_time_order_and_lists_the_trends(served, tmp_path: Path):
    items = stream.mentions(run="replay")
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)  # the file's order does not matter; created_at does
    path = tmp_path / "mentions.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in shuffled) + "\n")
    result = runner.invoke(cli, ["replay", str(path), "--key", served["admin"], "--batch", "400"])
    assert result.exit_code == 0, result.output
    assert f"replayed {len(items)} of {len(items)} mentions" in result.output
    lines = [line for line in result.output.splitlines() if "topic:delivery" in line]
    assert len(lines) == 1 and "investigation" in lines[0]
    assert "topic:billing" not in result.output


def test_a_bad_file_names_line_and_field_and_sends_nothing(served, tmp_path: Path):
    good = stream.mentions(minutes=1)[0]
    lines = [
        json.dumps(good),
        json.dumps({**good, "external_id": "x2", "created_at": "yesterday"}),
        "{not json",
        json.dumps({k: v for k, v in good.items() if k != "created_at"} | {"external_id": "x3"}),
        json.dumps({**good, "external_id": "x4", "text": ""}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines))
    result = runner.invoke(cli, ["replay", str(path), "--key", served["admin"]])
    assert result.exit_code == 2
    assert "line 2: created_at:" in result.output and "line 3: (line): not JSON" in result.output
    assert "line 4: created_at: a replayed mention needs its time" in result.output
    assert "line 5: text:" in result.output and "nothing was sent" in result.output
    from engine.signals.models import Signal
    from tests.helpers import count

    assert count(Signal) == 0


def test_csv_with_author_columns(served, tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text(
        "source,external_id,text,created_at,author_handle,author_followers\n"
        "twitter,c1,@acme my order never arrived,2026-11-20T08:00:00Z,@ann,120\n"
        "twitter,c2,@acme my order never arrived,2026-11-20T08:00:10Z,@bob,notanumber\n"
    )
    result = runner.invoke(cli, ["replay", str(path), "--key", served["admin"]])
    assert result.exit_code == 2 and "line 3: author.followers:" in result.output
    path.write_text(path.read_text().replace("notanumber", "7"))
    result = runner.invoke(cli, ["replay", str(path), "--key", served["admin"]])
    assert result.exit_code == 0, result.output and "replayed 2 of 2" in result.output
