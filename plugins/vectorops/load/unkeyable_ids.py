"""Ids PostgreSQL cannot key: too long for a btree entry even compressed. The server itself decides, at staging.

A btree entry holds at most 2,704 bytes, after PostgreSQL's own compression of the value. Whether a long id
compresses that far cannot be told client-side, so every id over :data:`LONG_ID_BYTES` is staged on its own, in a
savepoint, and the ids the staging table's key refuses are quarantined at once with their original records
(:mod:`vectorops.migration.staging`). The staging key (attempt id, id) is longer than the live table's (id), so an
id the staging accepts is one the live primary key accepts too.
"""

from __future__ import annotations

#: Ids up to this many UTF-8 bytes always fit a btree entry, whatever they compress to.
LONG_ID_BYTES = 2000
BTREE_ENTRY_BYTES = 2704


def is_long(encoded_id: bytes) -> bool:
    """Whether an id (UTF-8, surrogatepass) must be staged on its own
    (:func:`vectorops.migration.staging.stage_long_ids`).

    :param encoded_id: the id as staged.
    """
    return len(encoded_id) > LONG_ID_BYTES


def reason(encoded_id: bytes) -> str:
    """The quarantine reason of an id the key refused.

    :param encoded_id: the id as staged.
    """
    return (f"id is {len(encoded_id):,} bytes of UTF-8 and does not compress into a PostgreSQL index entry "
            f"(at most {BTREE_ENTRY_BYTES:,} bytes), so it cannot be the table's primary key")
