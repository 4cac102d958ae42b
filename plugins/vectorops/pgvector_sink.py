"""The pgvector side of a load: shadow tables, id staging, chunk plans and the binary COPY of a chunk."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from vectorops import chroma_source, db
from vectorops.copy_encoder import COPY_HEADER, COPY_TRAILER, encode_rows
from vectorops.records import (
    NO_EMBEDDING,
    NON_FINITE,
    SourceRecord,
    UnstorableValue,
    checked_fields,
    printable_id,
    quarantine_payload,
    wrong_dimensions,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkResult:
    """What loading one chunk did."""

    chunk_no: int
    read: int
    loaded: int
    quarantined: int
    seconds: float
    skipped: bool


def vector_type(dimensions: int | None) -> sql.Composable:
    """``vector(d)``, or plain ``vector`` when the dimension is not known yet (an empty collection)."""
    if dimensions is None:
        return sql.SQL("vector")
    return sql.SQL("vector({})").format(sql.Literal(int(dimensions)))


def create_shadow(conn: psycopg.Connection, schema: str, shadow: str, dimensions: int | None) -> None:
    """Create the target schema and the attempt's shadow table if they do not exist."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(db.statement("load/create_shadow_table", table=sql.Identifier(schema, shadow),
                              vector_type=vector_type(dimensions)))


def _encode_id(record_id: str) -> bytes:
    return record_id.encode("utf-8", "surrogatepass")


def _decode_id(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


def stage_ids(conn: psycopg.Connection, spec: chroma_source.SourceSpec, collection: str, attempt_id: str,
              page: int) -> int:
    """Stream every source id into ``vectorops.migration_source_ids`` (no payload is read).

    :return: the number of ids staged.
    :raises psycopg.errors.UniqueViolation: if the source listed an id twice.
    """
    conn.execute("DELETE FROM vectorops.migration_source_ids WHERE attempt_id = %s", (attempt_id,))
    staged = 0
    with conn.cursor().copy("COPY vectorops.migration_source_ids (attempt_id, id) FROM STDIN") as copy:
        for ids in chroma_source.iter_id_pages(spec, collection, page):
            for record_id in ids:
                copy.write_row((attempt_id, _encode_id(record_id)))
            staged += len(ids)
    return staged


def assign_chunks(conn: psycopg.Connection, attempt_id: str, chunk_rows: int) -> int:
    """Split the staged ids into id-range chunks; returns the number of chunks."""
    conn.execute("DELETE FROM vectorops.migration_chunks WHERE attempt_id = %s", (attempt_id,))
    cur = conn.execute(db.sql_text("load/assign_chunks"), {"attempt_id": attempt_id, "chunk_rows": chunk_rows})
    return cur.rowcount


def _batches(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _fetch_ahead(spec: chroma_source.SourceSpec, collection: str, ids: list[str],
                 size: int) -> Iterator[chroma_source.RecordBatch]:
    """Fetch batches one ahead of the consumer, so that reading Chroma overlaps encoding and COPY.

    At most two batches are in memory at once.
    """
    batches = list(_batches(ids, size))
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-fetch") as pool:
        pending = pool.submit(chroma_source.fetch, spec, collection, batches[0])
        for following in batches[1:]:
            current = pending.result()
            pending = pool.submit(chroma_source.fetch, spec, collection, following)
            yield current
        yield pending.result()


def _embedding_matrix(embeddings: object, rows: int, dimensions: int | None) -> tuple[np.ndarray, list[str | None]]:
    """A float32 (rows, d) matrix and, per row, why its embedding cannot be stored (``None`` when it can)."""
    if isinstance(embeddings, np.ndarray) and embeddings.ndim == 2 and embeddings.shape[0] == rows:
        matrix = np.ascontiguousarray(embeddings, dtype=np.float32)
        if dimensions is not None and matrix.shape[1] != dimensions:
            return matrix, [wrong_dimensions(matrix.shape[1], dimensions)] * rows
        problems: list[str | None] = [None] * rows
    else:
        items = list(embeddings) if embeddings is not None else [None] * rows  # type: ignore[call-overload]
        width = dimensions or next((len(item) for item in items if item is not None), 0)
        matrix = np.zeros((rows, width), dtype=np.float32)
        problems = []
        for i, item in enumerate(items):
            if item is None:
                problems.append(NO_EMBEDDING)
            elif len(item) != width:
                problems.append(wrong_dimensions(len(item), width))
            else:
                matrix[i] = item
                problems.append(None)
    for i in np.flatnonzero(~np.isfinite(matrix).all(axis=1)):
        problems[i] = problems[i] or NON_FINITE
    return matrix, problems


def copy_chunk(conn: psycopg.Connection, *, spec: chroma_source.SourceSpec, collection: str, attempt_id: str,
               run_id: str, schema: str, shadow: str, chunk_no: int, dimensions: int | None,
               fetch_batch: int) -> ChunkResult:
    """Load one chunk in one transaction: COPY its storable rows, quarantine the rest, mark it done.

    Must be called inside a transaction; nothing is visible (and the chunk is not done) until it commits.
    """
    started = time.perf_counter()
    row = conn.execute(
        """SELECT status, first_id, last_id, row_count FROM vectorops.migration_chunks
           WHERE attempt_id = %s AND chunk_no = %s FOR UPDATE""", (attempt_id, chunk_no)).fetchone()
    if row is None:
        raise RuntimeError(f"collection {collection!r}: chunk {chunk_no} of attempt {attempt_id} is not planned")
    status, first_id, last_id, expected = row
    if status == "done":
        return ChunkResult(chunk_no, 0, 0, 0, 0.0, skipped=True)
    ids = [_decode_id(r[0]) for r in conn.execute(
        """SELECT id FROM vectorops.migration_source_ids
           WHERE attempt_id = %s AND id BETWEEN %s AND %s ORDER BY id""", (attempt_id, first_id, last_id))]
    if len(ids) != expected:
        raise RuntimeError(f"collection {collection!r}: chunk {chunk_no} expects {expected} ids, staged {len(ids)}")
    quarantined: list[tuple[str, str, bytes]] = []
    loaded = 0
    copy_sql = db.statement("load/copy_records", table=sql.Identifier(schema, shadow))
    with conn.cursor().copy(copy_sql) as copy:
        copy.write(COPY_HEADER)
        for batch in _fetch_ahead(spec, collection, ids, fetch_batch):
            payload, bad = _encode_batch(batch, dimensions)
            if payload:
                copy.write(payload[0])
                loaded += payload[1]
            quarantined.extend(bad)
        copy.write(COPY_TRAILER)
    if quarantined:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO vectorops.quarantine (collection, record_id, reason, payload, attempt_id, run_id)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                [(collection, rid, reason, data, attempt_id, run_id) for rid, reason, data in quarantined])
        for rid, reason, _ in quarantined:
            log.warning("collection %r: record %s quarantined: %s", collection, rid, reason)
    seconds = time.perf_counter() - started
    conn.execute(
        """UPDATE vectorops.migration_chunks SET status = 'done', loaded_count = %s, quarantined_count = %s,
               seconds = %s, done_at = now() WHERE attempt_id = %s AND chunk_no = %s""",
        (loaded, len(quarantined), seconds, attempt_id, chunk_no))
    conn.execute(
        """UPDATE vectorops.migration_runs SET loaded_count = loaded_count + %s,
               quarantined_count = quarantined_count + %s, load_seconds = load_seconds + %s, heartbeat_at = now()
           WHERE attempt_id = %s""", (loaded, len(quarantined), seconds, attempt_id))
    return ChunkResult(chunk_no, len(ids), loaded, len(quarantined), seconds, skipped=False)


def _encode_batch(batch: chroma_source.RecordBatch, dimensions: int | None
                  ) -> tuple[tuple[bytes, int] | None, list[tuple[str, str, bytes]]]:
    """Split a fetched batch into encoded COPY rows and quarantine entries (record id, reason, payload)."""
    rows = len(batch.ids)
    matrix, problems = _embedding_matrix(batch.embeddings, rows, dimensions)
    keep: list[int] = []
    metas: list[str | None] = []
    bad: list[tuple[str, str, bytes]] = []
    for i in range(rows):
        reason = problems[i]
        meta = batch.metadatas[i]
        encoded = None
        try:
            encoded = checked_fields(batch.ids[i], batch.documents[i], batch.uris[i], meta)
        except UnstorableValue as exc:
            reason = str(exc)
        if reason is None:
            keep.append(i)
            metas.append(encoded)
            continue
        original = batch.embeddings[i] if batch.embeddings is not None else None
        embedding = None if original is None else np.asarray(original, dtype=np.float32)
        record = SourceRecord(batch.ids[i], embedding, batch.documents[i], meta, batch.uris[i])
        bad.append((printable_id(batch.ids[i]), reason, quarantine_payload(record)))
    if not keep:
        return None, bad
    if len(keep) == rows:
        return (encode_rows(batch.ids, matrix, batch.documents, metas, batch.uris), rows), bad
    return (encode_rows([batch.ids[i] for i in keep], matrix[keep], [batch.documents[i] for i in keep], metas,
                        [batch.uris[i] for i in keep]), len(keep)), bad
