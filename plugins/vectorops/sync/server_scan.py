"""Changes of a collection read through Chroma's API (a server): a digest scan, since servers expose no sequence
numbers.

Every record is read (ids, vectors, documents, metadata, uris, a page at a time) and hashed in the canonical
form parity uses; a record whose digest differs from the one recorded when it was last applied
(``vectorops.sync_digests``) is a change. Ids the table holds that the scan did not meet are confirmed gone with
one ``get(ids)`` before they are deleted: an offset scan can skip records while others are deleted under it.
The cost is a full read of the collection on every sync (docs/live-sync.md), against the files path's id scan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from vectorops.chroma import fetch
from vectorops.chroma.api_errors import api_errors
from vectorops.chroma.latest import LatestBatch, read_latest
from vectorops.chroma.source import RecordBatch, SourceSpec, get_collection
from vectorops.db.sql_files import sql_text, statement
from vectorops.quality.canonical import Row, canonical_metadata, row_bytes
from vectorops.quality.parity import iter_table_rows
from vectorops.sync.changeset import storable_id
from vectorops.sync.target import SyncTarget

DIGEST_BYTES = 16


def record_digest(record_id: str, vector: bytes, document: str | None, metadata: str | None,
                  uri: str | None) -> bytes:
    """The digest of one record in parity's canonical form (``vector``: big-endian float32 bytes)."""
    return hashlib.sha256(row_bytes(Row(record_id, vector, document, metadata, uri))).digest()[:DIGEST_BYTES]


def batch_digests(batch: RecordBatch) -> list[bytes]:
    """The digest of each record of ``batch``, as the source holds it."""
    digests = []
    for i, record_id in enumerate(batch.ids):
        embedding = batch.embeddings[i] if batch.embeddings is not None else None
        vector = b"" if embedding is None else np.asarray(embedding, dtype=">f4").tobytes()
        meta = batch.metadatas[i]
        digests.append(record_digest(record_id, vector, batch.documents[i],
                                     canonical_metadata(meta) if meta is not None else None, batch.uris[i]))
    return digests


def seed_from_table(conn: psycopg.Connection, target: SyncTarget) -> int:
    """Record the digest of every row of a table whose vectors are the source's (copy mode), so the first scan
    applies only what changed since the migration; return how many.

    :param conn: an autocommit connection to the vectors database.
    :param target: the collection, migrated without re-embedding.
    """
    seeded = 0
    ids: list[str] = []
    digests: list[bytes] = []
    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as reader:
        for row in iter_table_rows(reader, target.schema, target.table):
            ids.append(row.id)
            digests.append(hashlib.sha256(row_bytes(row)).digest()[:DIGEST_BYTES])
            if len(ids) == 5000:
                seeded += _record(conn, target, ids, digests)
                ids, digests = [], []
    return seeded + _record(conn, target, ids, digests)


def _record(conn: psycopg.Connection, target: SyncTarget, ids: list[str], digests: list[bytes]) -> int:
    if ids:
        conn.execute(sql_text("sync/upsert_digests"), (target.key, target.attempt_id, ids, digests))
    return len(ids)


@dataclass(frozen=True)
class ScanPage:
    """Changed records of one page of the scan, and their digests."""

    latest: LatestBatch
    digests: dict[str, bytes]


def _subset(batch: RecordBatch, keep: Sequence[int]) -> RecordBatch:
    embeddings = None if batch.embeddings is None else [batch.embeddings[i] for i in keep]
    return RecordBatch(ids=[batch.ids[i] for i in keep], embeddings=embeddings,
                       documents=[batch.documents[i] for i in keep], metadatas=[batch.metadatas[i] for i in keep],
                       uris=[batch.uris[i] for i in keep])


def scan_changes(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, page: int) -> Iterator[ScanPage]:
    """Read every record of the collection and yield those whose digest differs from the recorded one.

    The ids met are COPYed into the session's source table (``pg_temp.vectorops_sync_source``) as they go, for
    :func:`confirmed_deletes` and the parity count.
    """
    conn.execute(sql_text("sync/create_sync_source"))
    conn.execute("TRUNCATE pg_temp.vectorops_sync_source")
    for batch in fetch.iter_records(spec, target.ref, target.space, page):
        digests = batch_digests(batch)
        with conn.cursor().copy("COPY pg_temp.vectorops_sync_source (id, seq) FROM STDIN") as copy:
            for record_id in batch.ids:
                if storable_id(record_id):
                    copy.write_row((record_id, 0))
        stored: dict[str, bytes] = {str(i): bytes(d) for i, d in conn.execute(
            sql_text("sync/select_digests"), (target.key, target.attempt_id, batch.ids))}
        changed = [i for i, record_id in enumerate(batch.ids) if stored.get(record_id) != digests[i]]
        if changed:
            yield ScanPage(LatestBatch(_subset(batch, changed), []), {batch.ids[i]: digests[i] for i in changed})


def confirmed_deletes(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, page: int
                      ) -> tuple[list[str], list[ScanPage]]:
    """Table ids the scan did not meet: those the source confirms gone, and pages of those it still holds.

    :return: the ids to delete, and the records an offset scan skipped (to apply as changes).
    """
    table = sql.Identifier(target.schema, target.table)
    unseen = [str(r[0]) for r in conn.execute(statement("sync/select_deleted_records", table=table))]
    gone: list[str] = []
    skipped: list[ScanPage] = []
    collection = get_collection(spec, target.ref)
    for start in range(0, len(unseen), page):
        part = unseen[start:start + page]
        with api_errors(spec, target.ref, f"check {len(part)} ids"):
            held = set(collection.get(ids=part, include=[])["ids"])
        gone += [i for i in part if i not in held]
        if held:
            with conn.cursor().copy("COPY pg_temp.vectorops_sync_source (id, seq) FROM STDIN") as copy:
                for record_id in held:
                    copy.write_row((record_id, 0))
            latest = next(read_latest(spec, target.ref, target.space, sorted(held), len(held)))
            gone += latest.gone
            skipped.append(ScanPage(LatestBatch(latest.records, []),
                                    dict(zip(latest.records.ids, batch_digests(latest.records), strict=True))))
    return gone, skipped
