"""Ids PostgreSQL cannot key: too long for a btree entry even compressed. The server itself decides, at staging.

A btree entry holds at most 2,704 bytes, after PostgreSQL's own compression of the value. Whether a long id
compresses that far cannot be told client-side, so every id over :data:`LONG_ID_BYTES` is staged on its own, in a
savepoint, and the ids the staging table's key refuses are quarantined at once with their original records. The
staging key (attempt id, id) is longer than the live table's (id), so an id the staging accepts is one the live
primary key accepts too.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from vectorops.chroma import fetch, source
from vectorops.load import quarantine

#: Ids up to this many UTF-8 bytes always fit a btree entry, whatever they compress to.
LONG_ID_BYTES = 2000
BTREE_ENTRY_BYTES = 2704


def is_long(encoded_id: bytes) -> bool:
    """Whether an id (UTF-8, surrogatepass) must be staged on its own (:func:`stage_long_ids`)."""
    return len(encoded_id) > LONG_ID_BYTES


def reason(encoded_id: bytes) -> str:
    """The quarantine reason of an id the key refused."""
    return (f"id is {len(encoded_id):,} bytes of UTF-8 and does not compress into a PostgreSQL index entry "
            f"(at most {BTREE_ENTRY_BYTES:,} bytes), so it cannot be the table's primary key")


def stage_long_ids(conn: psycopg.Connection, attempt_id: str, long_ids: Sequence[tuple[bytes, int | None]]
                   ) -> list[tuple[bytes, int | None]]:
    """Stage each long id in its own savepoint; return the ids (with their positions) the key refused.

    :param conn: the staging connection, inside the staging transaction.
    :param long_ids: encoded ids over :data:`LONG_ID_BYTES` with their positions in the files (or ``None``).
    :raises psycopg.errors.UniqueViolation: if the source listed an id twice.
    """
    refused: list[tuple[bytes, int | None]] = []
    for encoded, position in long_ids:
        try:
            with conn.transaction():
                conn.execute("""INSERT INTO vectorops.migration_source_ids (attempt_id, id, source_position)
                                VALUES (%s, %s, %s)""", (attempt_id, encoded, position))
        except psycopg.errors.ProgramLimitExceeded:
            refused.append((encoded, position))
    return refused


def quarantine_refused(conn: psycopg.Connection, *, spec: source.SourceSpec, collection: str, space: str,
                       attempt_id: str, run_id: str, refused: Sequence[tuple[bytes, int | None]]) -> int:
    """Quarantine the records of the refused ids with their original payloads; return how many.

    Their records are read like any staged batch (from the files when the ids were staged from them).

    :param conn: the staging connection, inside the staging transaction (the stamp is read from it).
    """
    if not refused:
        return 0
    stamp = conn.execute("SELECT source_stamp FROM vectorops.migration_runs WHERE attempt_id = %s",
                         (attempt_id,)).fetchone()[0]
    ids = [encoded.decode("utf-8", "surrogatepass") for encoded, _ in refused]
    positions = [position for _, position in refused]
    entries = []
    for batch in fetch.fetch_staged(spec, collection, space, stamp, [(ids, positions)]):
        for i, record_id in enumerate(batch.ids):
            original = batch.embeddings[i] if batch.embeddings is not None else None
            entries.append(quarantine.entry(record_id, original, batch.documents[i], batch.metadatas[i],
                                            batch.uris[i], reason(record_id.encode("utf-8", "surrogatepass"))))
    quarantine.store(conn, collection=collection, attempt_id=attempt_id, run_id=run_id, entries=entries)
    conn.execute("UPDATE vectorops.migration_runs SET unkeyable_count = %s, quarantined_count = quarantined_count + %s "
                 "WHERE attempt_id = %s", (len(entries), len(entries), attempt_id))
    return len(entries)
