"""/readyz says whether this process can serve, and /metrics publishes what operators watch."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY

from api.app import readiness
from tests.helpers import auth, drain, signal_body


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_ready_when_the_database_answers_with_the_newest_schema(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "current", "worker": "not run in this process"},
    }


def test_not_ready_names_what_failed(app, monkeypatch):
    class Stopped:
        running = False

    app.state.worker = Stopped()
    monkeypatch.setattr(
        "engine.migrate.schema_problem", lambda engine: "has no Sift schema yet; run `sift migrate`"
    )
    checks = readiness(app)
    assert checks["worker"] == (False, "stopped")
    assert checks["migrations"][0] is False and "sift migrate" in checks["migrations"][1]
    app.state.worker = None


def test_metrics_count_accepted_and_handled_signals_events_and_the_inbox(client, keys):
    accepted, opened = (
        _sample("sift_signals_accepted_total"),
        _sample("sift_events_total", type="case.opened"),
    )
    processed = _sample("sift_signals_handled_total", status="processed")
    batches = _sample("sift_worker_batch_seconds_count")
    first = signal_body()
    for body in (first, first, signal_body()):  # the repeat of a key is not a new signal
        client.post("/api/v1/signals", json=body, headers=auth(keys["integration"]))
    text = client.get("/metrics").text
    depth = re.search(r'^sift_inbox_depth\{status="pending"\} (\S+)$', text, re.M)
    assert depth is not None and float(depth.group(1)) == 2.0
    assert _sample("sift_signals_accepted_total") == accepted + 2
    drain()
    assert _sample("sift_signals_handled_total", status="processed") == processed + 2
    assert _sample("sift_events_total", type="case.opened") == opened + 2
    assert _sample("sift_worker_batch_seconds_count") > batches
    text = client.get("/metrics").text
    assert re.search(r'^sift_inbox_depth\{status="pending"\} 0\.0$', text, re.M)
    assert "sift_db_pool_checked_out" in text and "sift_inbox_oldest_pending_seconds 0.0" in text


def test_the_grafana_dashboard_reads_only_series_sift_publishes(client, keys):
    import json
    from pathlib import Path

    client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    drain()
    published = {
        line.split()[2] for line in client.get("/metrics").text.splitlines() if line.startswith("# TYPE ")
    }
    series = set()
    for name in published:  # a histogram's and a counter's derived series
        series |= {name, f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    dashboard = json.loads((Path(__file__).parents[2] / "docker" / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r"\b(sift_[a-z_]+|process_[a-z_]+)\b", target["expr"]))
            assert used and used <= series, (panel["title"], used - series)
