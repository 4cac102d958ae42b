"""The pgvector side of a load: shadow tables, id staging, chunk plans and the binary COPY of a chunk."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from vectorops import failpoints
from vectorops.chroma import fetch, locate, source
from vectorops.chroma.files import reader
from vectorops.db import ownership
from vectorops.db.sql_files import sql_text, statement
from vectorops.embedding import policy
from vectorops.errors import UnstorableValue
from vectorops.load import quarantine, unkeyable_ids, unlogged
from vectorops.load.copy_encoder import COPY_HEADER, COPY_TRAILER, encode_rows
from vectorops.records import batch_checked_fields, checked_fields, embedding_matrix

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
    reembedded: int = 0
    kept_vectors: int = 0
    metadata_rows: int = 0
    encode_seconds: float = 0.0


@dataclass
class _Tally:
    loaded: int = 0
    metadata_rows: int = 0
    reembedded: int = 0
    kept: int = 0
    encode_seconds: float = 0.0


def vector_type(dimensions: int | None) -> sql.Composable:
    """``vector(d)``, or plain ``vector`` when the dimension is not known yet (an empty collection)."""
    if dimensions is None:
        return sql.SQL("vector")
    return sql.SQL("vector({})").format(sql.Literal(int(dimensions)))


def create_schema(conn: psycopg.Connection, schema: str, created_by: str = "vectorops") -> bool:
    """Create ``schema`` and record it as vectorops's, unless it exists (see :func:`ownership.ensure_schema`).

    Call it outside a long transaction (in autocommit it commits at once): an uncommitted new schema makes every
    other session creating it wait until that transaction ends.

    :return: whether vectorops created the schema.
    """
    return ownership.ensure_schema(conn, schema, created_by)


def create_shadow(conn: psycopg.Connection, schema: str, shadow: str, dimensions: int | None) -> None:
    """Create the attempt's shadow table in ``schema`` and record it, unless this attempt already made it.

    :raises ownership.NotCreatedByVectorops: when a table vectorops did not create has the shadow's name.
    """
    create_schema(conn, schema)
    ownership.require_absent_or_ours(conn, schema, shadow)
    if ownership.owns_table(conn, schema, shadow):
        return  # a resumed attempt's
    # no IF NOT EXISTS: a table someone creates under this name meanwhile fails the create, and is never recorded
    conn.execute(statement("load/create_shadow_table", table=sql.Identifier(schema, shadow),
                              vector_type=vector_type(dimensions)))
    ownership.record_table(conn, schema, shadow, f"attempt {shadow.rsplit('__shadow_', 1)[-1]}")


class StagedIds(NamedTuple):
    """What staging read: ``count`` source ids, of which ``refused`` (encoded, position) no key can hold."""

    count: int
    refused: list[tuple[bytes, int | None]]


def _encode_id(record_id: str) -> bytes:
    return record_id.encode("utf-8", "surrogatepass")


def _decode_id(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


def stage_ids(conn: psycopg.Connection, spec: source.SourceSpec, collection: str, attempt_id: str,
              page: int, space: str) -> StagedIds:
    """Stream every source id into ``vectorops.migration_source_ids`` (no payload is read).

    From the store's files when they can be read directly: each id then carries its element's position,
    and the files' stamp is kept in ``migration_runs.source_stamp``. Otherwise through Chroma's API. Ids over
    :data:`unkeyable_ids.LONG_ID_BYTES` are staged one by one, and those no key can hold are returned apart
    (:mod:`vectorops.load.unkeyable_ids`).

    :return: the number of ids read from the source, and the ids (with positions) that could not be staged.
    :raises psycopg.errors.UniqueViolation: if the source listed an id twice.
    """
    files = locate.store_files(spec, collection, space)
    if files is not None:
        try:
            with conn.transaction():
                return _stage_from_files(conn, files, attempt_id)
        except reader.FilesUnreadable as exc:
            # the layout was recognised, so Chroma's API would read the same inconsistent files
            raise fetch.read_failure(spec, collection, files, files.stamp, exc) from None
    _clear_staging(conn, attempt_id)
    conn.execute("UPDATE vectorops.migration_runs SET source_stamp = NULL WHERE attempt_id = %s", (attempt_id,))
    staged = 0
    long_ids: list[tuple[bytes, int | None]] = []
    with conn.cursor().copy("COPY vectorops.migration_source_ids (attempt_id, id) FROM STDIN") as copy:
        for ids in fetch.iter_id_pages(spec, collection, page):
            for record_id in ids:
                encoded = _encode_id(record_id)
                if unkeyable_ids.is_long(encoded):
                    long_ids.append((encoded, None))
                else:
                    copy.write_row((attempt_id, encoded))
            staged += len(ids)
            failpoints.hit("stage_ids")
    return StagedIds(staged, unkeyable_ids.stage_long_ids(conn, attempt_id, long_ids))


def _clear_staging(conn: psycopg.Connection, attempt_id: str) -> None:
    """Forget an earlier staging of the attempt: its ids, and the records it quarantined (no chunk has loaded)."""
    conn.execute("DELETE FROM vectorops.migration_source_ids WHERE attempt_id = %s", (attempt_id,))
    conn.execute("DELETE FROM vectorops.quarantine WHERE attempt_id = %s", (attempt_id,))
    conn.execute("UPDATE vectorops.migration_runs SET quarantined_count = 0, unkeyable_count = 0 "
                 "WHERE attempt_id = %s", (attempt_id,))


def _stage_from_files(conn: psycopg.Connection, files: reader.StoreCollection, attempt_id: str
                      ) -> StagedIds:
    _clear_staging(conn, attempt_id)
    staged = 0
    long_ids: list[tuple[bytes, int | None]] = []
    with conn.cursor().copy(
            "COPY vectorops.migration_source_ids (attempt_id, id, source_position) FROM STDIN") as copy:
        for ids, positions in reader.iter_id_positions(files):
            for record_id, position in zip(ids, positions.tolist(), strict=True):
                encoded = _encode_id(record_id)
                if unkeyable_ids.is_long(encoded):
                    long_ids.append((encoded, position))
                else:
                    copy.write_row((attempt_id, encoded, position))
            staged += len(ids)
            failpoints.hit("stage_ids")
    refused = unkeyable_ids.stage_long_ids(conn, attempt_id, long_ids)
    if reader.current_stamp(files) != files.stamp:
        raise fetch.changed_error(files.name, "its files were written while the ids were staged")
    conn.execute("UPDATE vectorops.migration_runs SET source_stamp = %s WHERE attempt_id = %s",
                 (files.stamp, attempt_id))
    return StagedIds(staged, refused)


def assign_chunks(conn: psycopg.Connection, attempt_id: str, chunk_rows: int) -> int:
    """Split the staged ids into id-range chunks; returns the number of chunks."""
    conn.execute("DELETE FROM vectorops.migration_chunks WHERE attempt_id = %s", (attempt_id,))
    cur = conn.execute(sql_text("load/assign_chunks"), {"attempt_id": attempt_id, "chunk_rows": chunk_rows})
    return cur.rowcount


def _batches(ids: list[str], positions: list[int | None], size: int
             ) -> Iterator[tuple[list[str], list[int | None]]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size], positions[start:start + size]


def source_stamp(conn: psycopg.Connection, attempt_id: str) -> str | None:
    """The stamp of the files the attempt's ids were staged from, or ``None`` (staged through the API)."""
    row = conn.execute("SELECT source_stamp FROM vectorops.migration_runs WHERE attempt_id = %s",
                       (attempt_id,)).fetchone()
    return None if row is None else row[0]


def copy_chunk(conn: psycopg.Connection, *, spec: source.SourceSpec, collection: str, attempt_id: str,
               run_id: str, schema: str, shadow: str, chunk_no: int, plan: policy.EmbeddingPlan, space: str,
               fetch_batch: int) -> ChunkResult:
    """Load one chunk in one transaction: COPY its storable rows, quarantine the rest, mark it done.

    Vectors are copied or re-embedded as ``plan`` says. Must be called inside a transaction; nothing is
    visible (and the chunk is not done) until it commits.
    """
    started = time.perf_counter()
    unlogged.ensure_intact(conn, collection=collection, attempt_id=attempt_id, schema=schema, shadow=shadow)
    row = conn.execute(
        """SELECT status, first_id, last_id, row_count FROM vectorops.migration_chunks
           WHERE attempt_id = %s AND chunk_no = %s FOR UPDATE""", (attempt_id, chunk_no)).fetchone()
    if row is None:
        raise RuntimeError(f"collection {collection!r}: chunk {chunk_no} of attempt {attempt_id} is not planned")
    status, first_id, last_id, expected = row
    if status == "done":
        return ChunkResult(chunk_no, 0, 0, 0, 0.0, skipped=True)
    staged = conn.execute(
        """SELECT id, source_position FROM vectorops.migration_source_ids
           WHERE attempt_id = %s AND id BETWEEN %s AND %s ORDER BY id""", (attempt_id, first_id, last_id)).fetchall()
    ids = [_decode_id(r[0]) for r in staged]
    positions = [r[1] for r in staged]
    del staged
    stamp = source_stamp(conn, attempt_id)
    if len(ids) != expected:
        raise RuntimeError(f"collection {collection!r}: chunk {chunk_no} expects {expected} ids, staged {len(ids)}")
    tally = _Tally()
    progress = None if plan.mode == policy.COPY else (
        lambda read: _log_progress(collection, chunk_no, read, len(ids), started, tally))
    batches = fetch.fetch_staged(spec, collection, space, stamp, _batches(ids, positions, fetch_batch))
    quarantined = write_batches(conn, schema, shadow, batches, plan, space, tally, progress)
    loaded = tally.loaded
    quarantine.store(conn, collection=collection, attempt_id=attempt_id, run_id=run_id, entries=quarantined)
    seconds = time.perf_counter() - started
    conn.execute(
        """UPDATE vectorops.migration_chunks SET status = 'done', loaded_count = %s, quarantined_count = %s,
               seconds = %s, done_at = now(), reembedded_count = %s, kept_vector_count = %s, metadata_count = %s
           WHERE attempt_id = %s AND chunk_no = %s""",
        (loaded, len(quarantined), seconds, tally.reembedded, tally.kept, tally.metadata_rows, attempt_id, chunk_no))
    conn.execute(
        """UPDATE vectorops.migration_runs SET loaded_count = loaded_count + %s,
               quarantined_count = quarantined_count + %s, load_seconds = load_seconds + %s, heartbeat_at = now()
           WHERE attempt_id = %s""", (loaded, len(quarantined), seconds, attempt_id))
    failpoints.hit("chunk_commit")
    return ChunkResult(chunk_no, len(ids), loaded, len(quarantined), seconds, skipped=False,
                       reembedded=tally.reembedded, kept_vectors=tally.kept, metadata_rows=tally.metadata_rows,
                       encode_seconds=tally.encode_seconds)


def write_batches(conn: psycopg.Connection, schema: str, shadow: str, batches: Iterable[source.RecordBatch],
                  plan: policy.EmbeddingPlan, space: str, tally: _Tally,
                  progress: Callable[[int], None] | None = None) -> list[tuple[str, str, bytes]]:
    """COPY the storable records of ``batches`` into ``schema.shadow``; return the quarantine entries.

    One COPY statement; a writer thread sends each encoded batch while the next one is checked and encoded.
    Must run inside a transaction (it sets ``synchronous_commit = off`` for that transaction only).

    :param progress: called with the number of records read so far after each batch.
    """
    quarantined: list[tuple[str, str, bytes]] = []
    read = 0
    # The commit does not wait for the ledger's WAL to reach the disk. Safe for a load: a crash can only lose
    # whole chunk transactions, data and ledger together, and they reload.
    conn.execute("SET LOCAL synchronous_commit = off")
    cursor = conn.cursor()
    copy_sql = statement("load/copy_records", table=sql.Identifier(schema, shadow))
    with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(COPY_HEADER)
        for batch in batches:
            for part in _slices(batch, ENCODE_ROWS):
                payload, bad = _encode_batch(part, plan, space, tally)
                if payload:
                    copy.write(payload)
                quarantined.extend(bad)
            read += len(batch.ids)
            failpoints.hit("copy_batch")
            if progress is not None:
                progress(read)
        copy.write(COPY_TRAILER)
    return quarantined


#: Rows encoded per COPY write. The server parses one slice while the next is encoded, and a slice of ~170 kB
#: stays in the CPU caches. Measured on 200k rows × 384 (.scratch runs, 3 each): 5,000 rows ~105k rows/s,
#: 1,000 ~147k, 250 ~179k, 100 ~197k, 50 ~188k.
ENCODE_ROWS = 100


def _slices(batch: source.RecordBatch, size: int) -> Iterator[source.RecordBatch]:
    if len(batch.ids) <= size:
        yield batch
        return
    for start in range(0, len(batch.ids), size):
        end = start + size
        yield source.RecordBatch(
            ids=batch.ids[start:end], embeddings=None if batch.embeddings is None else batch.embeddings[start:end],
            documents=batch.documents[start:end], metadatas=batch.metadatas[start:end], uris=batch.uris[start:end])


def _log_progress(collection: str, chunk_no: int, done: int, total: int, started: float, tally: _Tally) -> None:
    elapsed = time.perf_counter() - started
    log.info("collection %r chunk %s: %s/%s rows (%.0f%%), %.0f rows/s; re-embedded %s (%.0f sentences/s), "
             "kept %s old vector(s)", collection, chunk_no, done, total, 100.0 * done / total if total else 100.0,
             done / elapsed if elapsed else 0.0, tally.reembedded,
             tally.reembedded / tally.encode_seconds if tally.encode_seconds else 0.0, tally.kept)


def _encode_batch(batch: source.RecordBatch, plan: policy.EmbeddingPlan, space: str, tally: _Tally
                  ) -> tuple[bytes | None, list[tuple[str, str, bytes]]]:
    """Split a fetched batch into encoded COPY rows and quarantine entries (record id, reason, payload)."""
    rows = len(batch.ids)
    matrix, problems = embedding_matrix(batch.embeddings, rows, plan.source_dimensions)
    vectors = policy.apply_policy(plan, space, matrix, problems, batch.documents)
    tally.reembedded += vectors.reembedded
    tally.kept += vectors.kept
    tally.encode_seconds += vectors.encode_seconds
    if not any(vectors.problems):
        fast = batch_checked_fields(batch.ids, batch.documents, batch.uris, batch.metadatas)
        if fast is not None:
            tally.loaded += rows
            tally.metadata_rows += rows - fast.count(None)
            return encode_rows(batch.ids, vectors.matrix, batch.documents, fast, batch.uris), []
    keep: list[int] = []
    metas: list[str | None] = []
    bad: list[tuple[str, str, bytes]] = []
    for i in range(rows):
        reason = vectors.problems[i]
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
        bad.append(quarantine.entry(batch.ids[i], original, batch.documents[i], meta, batch.uris[i], reason))
    tally.loaded += len(keep)
    tally.metadata_rows += sum(m is not None for m in metas)
    if not keep:
        return None, bad
    matrix = vectors.matrix
    if len(keep) == rows:
        return encode_rows(batch.ids, matrix, batch.documents, metas, batch.uris), bad
    return encode_rows([batch.ids[i] for i in keep], matrix[keep], [batch.documents[i] for i in keep], metas,
                       [batch.uris[i] for i in keep]), bad
