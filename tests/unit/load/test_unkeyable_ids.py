"""Which ids are staged on their own, and the reason an id the key refuses is quarantined with."""

from __future__ import annotations

from vectorops.load.unkeyable_ids import BTREE_ENTRY_BYTES, LONG_ID_BYTES, is_long, reason
from vectorops.migration.ledger import encode_id


def test_ids_over_the_limit_in_utf8_bytes_are_long() -> None:
    assert not is_long(encode_id("a" * LONG_ID_BYTES))
    assert is_long(encode_id("a" * (LONG_ID_BYTES + 1)))
    assert is_long(encode_id("日" * (LONG_ID_BYTES // 3 + 1)))  # 3 bytes each: counted in bytes, not characters
    assert LONG_ID_BYTES < BTREE_ENTRY_BYTES


def test_the_reason_names_the_size_and_the_limit() -> None:
    assert reason(b"x" * 12345) == ("id is 12,345 bytes of UTF-8 and does not compress into a PostgreSQL index "
                                   "entry (at most 2,704 bytes), so it cannot be the table's primary key")
