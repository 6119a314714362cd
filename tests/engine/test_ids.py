"""Row ids: random version-4 UUIDs spelled as 32 hex digits."""

from __future__ import annotations

import uuid

from engine.db import new_id


def test_new_id_is_a_random_uuid4_in_hex() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == value  # 32 lower-case hex digits, no dashes
