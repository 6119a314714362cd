"""How connectors run: ``sift connectors run``, the lease that keeps two processes from running
one connector at once, the timer service's job, and connector lag on /metrics."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from api.cli import app as cli
from engine.connectors import service
from tests.connectors.fake import fake_network, fixture
from tests.connectors.helpers import create, signals


def test_sift_connectors_run_prints_what_each_brought_in(client, keys, connector_key):
    with fake_network() as fake:
        fake.route("GET", "/reviews.rss", (200, {"Content-Type": "application/rss+xml"}, fixture("feed.rss")))
        create(client, keys, name="reviews", kind="rss", options={"feeds": [f"{fake.url}/reviews.rss"]})
        result = CliRunner().invoke(cli, ["connectors", "run"])
        assert result.exit_code == 0, result.output
        assert "reviews (rss): ok, 2 new, 0 repeats, next run " in result.output
        again = CliRunner().invoke(cli, ["connectors", "run"])
        assert "no connector is due" in again.output  # its interval has not passed
        forced = CliRunner().invoke(cli, ["connectors", "run", "--now", "--only", "reviews"])
        assert "reviews (rss): ok, 0 new, 0 repeats" in forced.output
        assert len(signals("rss")) == 2


def test_a_connector_another_process_holds_is_not_run_again(client, keys, connector_key):
    from engine.db import unit_of_work

    with fake_network() as fake:
        fake.route("GET", "/f", (200, {}, fixture("feed.rss")))
        create(client, keys, name="held", kind="rss", options={"feeds": [f"{fake.url}/f"]})
        with unit_of_work() as s:
            (held,) = service.claim(s, owner="other", stream_seconds=5)
        assert service.run_due(force=True) == []
        assert fake.hits("GET", "/f") == []
        # the holder's run still completes and settles
        outcome = service.run_one(held)
        assert outcome.outcome == "ok" and outcome.new == 2


def test_lag_and_failures_are_on_metrics(client, keys, connector_key):
    with fake_network() as fake:
        fake.route("GET", "/f", (200, {}, fixture("feed.rss")))
        fake.route("GET", "/gone", (404, {}, b""))
        create(client, keys, name="good", kind="rss", options={"feeds": [f"{fake.url}/f"]})
        create(client, keys, name="bad", kind="rss", options={"feeds": [f"{fake.url}/gone"]})
        service.run_due(force=True)
        text = client.get("/metrics").text
        lag = {
            m[0]: float(m[1])
            for m in re.findall(r'sift_connector_lag_seconds\{connector="(\w+)",kind="rss"\} (\S+)', text)
        }
        assert set(lag) == {"good", "bad"} and lag["good"] < 5.0
        assert 'sift_connector_failures{connector="bad",kind="rss"} 1.0' in text
        assert 'sift_connector_runs_total{kind="rss",outcome="failed"}' in text


def test_the_timer_service_runs_due_connectors(client, keys, connector_key):
    from engine.timers.poller import _JOBS

    seconds, job = _JOBS["connectors"]
    assert job is service.tick_job and seconds == 5.0
    with fake_network() as fake:
        fake.route("GET", "/f", (200, {}, fixture("feed.rss")))
        create(client, keys, name="tick", kind="rss", options={"feeds": [f"{fake.url}/f"]})
        job()
        assert len(signals("rss")) == 2
