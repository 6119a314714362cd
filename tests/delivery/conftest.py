from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from engine.config import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Sets SIFT_ settings for one test (retries fast, thresholds small) and restores them."""

    def put(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"SIFT_{name.upper()}", str(value))
        get_settings.cache_clear()

    put(webhook_retry_base_seconds=0.05, reply_retry_base_seconds=0.05, delivery_timeout_seconds=5)
    yield put
    monkeypatch.undo()
    get_settings.cache_clear()
