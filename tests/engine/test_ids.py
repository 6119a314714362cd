"""Row ids: time-ordered version-7 UUIDs spelled as 32 hex digits."""

from __future__ import annotations

import time
import uuid

from engine.db import new_id, owner_name


def test_new_id_is_a_version_7_uuid_in_hex_with_the_time_first() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == value  # 32 lower-case hex digits, no dashes
        assert before <= int(value[:12], 16) <= after  # 48 bits of Unix milliseconds


def test_an_id_made_a_millisecond_later_sorts_after() -> None:
    """So B-tree inserts of a batch land at the right edge of each index."""
    first = new_id()
    time.sleep(0.003)
    assert new_id() > first


def test_the_random_part_differs_within_one_millisecond() -> None:
    ids = [new_id() for _ in range(200)]
    same_ms = [i for i in ids if i[:12] == ids[0][:12]]
    assert len({i[12:] for i in same_ms}) == len(same_ms)


def test_a_restarted_process_with_the_same_pid_is_another_lease_owner() -> None:
    names = {owner_name() for _ in range(50)}
    assert len(names) == 50  # the random suffix, not the id's time prefix, tells them apart
