from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

KEY = Fernet.generate_key().decode()


@pytest.fixture
def connector_key(settings_env: Any) -> Any:
    settings_env(
        connector_key=KEY,
        reply_retry_base_seconds=0.05,
        delivery_timeout_seconds=5,
        connector_timeout_seconds=5,
    )
    return settings_env
