"""A replayed stream with an injected spike on "delivery", for the HTTP tests of this folder."""

from __future__ import annotations

import pytest

from tests.helpers import auth, drain
from tests.trends import stream


@pytest.fixture
def replayed(client, keys):
    """The stream posted in event-time order in batches of 300, the worker draining between."""
    items = stream.mentions()
    for at in range(0, len(items), 300):
        r = client.post(
            "/api/v1/signals:batch", json={"signals": items[at : at + 300]}, headers=auth(keys["integration"])
        )
        assert r.status_code == 202, r.text
        drain()
    return items
