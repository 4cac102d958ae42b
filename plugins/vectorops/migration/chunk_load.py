"""Loading one chunk: fetch its records (chroma) → give each its vector (embedding) → COPY them (load).

The chunk commits with its ledger row, so a rerun skips it, and a crash loses it whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import psycopg

from vectorops import failpoints
from vectorops.chroma import source
from vectorops.chroma.staged import StagedBatch, fetch_staged
from vectorops.embedding import policy
from vectorops.load import copy, quarantine
from vectorops.migration import ledger, recovery
from vectorops.migration.plan import CollectionPlan
from vectorops.records import embedding_matrix

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
    gone: int = 0  # staged ids the source no longer held (deleted after the read point)


def copy_chunk(conn: psycopg.Connection, plan: CollectionPlan, chunk_no: int, *, fetch_batch: int) -> ChunkResult:
    """Load one chunk in one transaction: COPY its storable rows, quarantine the rest, mark it done.

    Vectors are copied or re-embedded as the plan's embedding plan says. Must be called inside a transaction;
    nothing is visible (and the chunk is not done) until it commits.

    :param conn: the connection, inside the chunk's transaction.
    :param plan: the collection's plan (source, attempt, run, shadow table, embedding plan, space).
    :param chunk_no: the chunk.
    :param fetch_batch: records per fetch from the source.
    """
    started = time.perf_counter()
    collection, attempt_id, schema, shadow = plan.collection, plan.attempt_id, plan.schema, plan.shadow
    space = plan.info.space
    recovery.ensure_intact(conn, collection=collection, attempt_id=attempt_id, schema=schema, shadow=shadow)
    chunk = ledger.lock_chunk(conn, attempt_id, chunk_no)
    if chunk is None:
        raise RuntimeError(f"collection {collection!r}: chunk {chunk_no} of attempt {attempt_id} is not planned")
    if chunk.status == "done":
        return ChunkResult(chunk_no, 0, 0, 0, 0.0, skipped=True)
    ids, positions = ledger.staged_ids(conn, attempt_id, chunk.first_id, chunk.last_id)
    stamp = ledger.source_stamp(conn, attempt_id)
    if len(ids) != chunk.row_count:
        raise RuntimeError(f"collection {collection!r}: chunk {chunk_no} expects {chunk.row_count} ids, "
                           f"staged {len(ids)}")
    tally = copy.Tally()
    progress = None if plan.embedding.mode == policy.COPY else (
        lambda read: _log_progress(collection, chunk_no, read, len(ids), started, tally))
    gone: list[str] = []
    batches = _records(fetch_staged(plan.source, collection, space, stamp, _batches(ids, positions, fetch_batch)),
                       gone)
    quarantined = write_fetched(conn, schema, shadow, batches, plan.embedding, space, tally, progress)
    quarantine.store(conn, collection=collection, attempt_id=attempt_id, run_id=plan.run_id, entries=quarantined)
    seconds = time.perf_counter() - started
    ledger.finish_chunk(conn, attempt_id, chunk_no, loaded=tally.loaded, quarantined=len(quarantined),
                        seconds=seconds, reembedded=tally.reembedded, kept=tally.kept, metadata=tally.metadata_rows,
                        gone=len(gone))
    if gone:
        log.info("collection %r chunk %s: %s staged record(s) were deleted from the source after its read point "
                 "(first: %r); not loaded, the next sync accounts for them", collection, chunk_no, len(gone), gone[0])
    failpoints.hit("chunk_commit")
    return ChunkResult(chunk_no, len(ids), tally.loaded, len(quarantined), seconds, skipped=False,
                       reembedded=tally.reembedded, kept_vectors=tally.kept, metadata_rows=tally.metadata_rows,
                       encode_seconds=tally.encode_seconds, gone=len(gone))


def _records(batches: Iterable[StagedBatch], gone: list[str]) -> Iterator[source.RecordBatch]:
    """The records of ``batches``; the ids they found gone are added to ``gone``."""
    for batch in batches:
        gone.extend(batch.gone)
        yield batch.records


def write_fetched(conn: psycopg.Connection, schema: str, shadow: str, batches: Iterable[source.RecordBatch],
                  plan: policy.EmbeddingPlan, space: str, tally: copy.Tally,
                  progress: Callable[[int], None] | None = None) -> list[quarantine.Entry]:
    """Give the fetched ``batches`` their vectors as ``plan`` says and COPY them into ``schema.shadow``.

    :param conn: the connection, inside a transaction.
    :param schema: the shadow table's schema.
    :param shadow: the shadow table.
    :param batches: records fetched from the source.
    :param plan: the collection's embedding plan.
    :param space: the collection's distance space.
    :param tally: counts what the load did.
    :param progress: called with the number of records read so far after each batch.
    :return: the quarantine entries.
    """
    prepared = ((_with_vectors(part, plan, space, tally) for part in _slices(batch, copy.ENCODE_ROWS))
                for batch in batches)
    return copy.write_batches(conn, schema, shadow, prepared, tally, progress)


def _with_vectors(batch: source.RecordBatch, plan: policy.EmbeddingPlan, space: str, tally: copy.Tally
                  ) -> copy.Rows:
    """The records of ``batch`` with the vector each gets under ``plan`` (or why it gets none)."""
    matrix, problems = embedding_matrix(batch.embeddings, len(batch.ids), plan.source_dimensions)
    vectors = policy.apply_policy(plan, space, matrix, problems, batch.documents)
    tally.reembedded += vectors.reembedded
    tally.kept += vectors.kept
    tally.encode_seconds += vectors.encode_seconds
    return copy.Rows(batch.ids, vectors.matrix, vectors.problems, batch.documents, batch.metadatas, batch.uris,
                     batch.embeddings)


def _batches(ids: list[str], positions: list[int | None], size: int
             ) -> Iterator[tuple[list[str], list[int | None]]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size], positions[start:start + size]


def _slices(batch: source.RecordBatch, size: int) -> Iterator[source.RecordBatch]:
    if len(batch.ids) <= size:
        yield batch
        return
    for start in range(0, len(batch.ids), size):
        end = start + size
        yield source.RecordBatch(
            ids=batch.ids[start:end], embeddings=None if batch.embeddings is None else batch.embeddings[start:end],
            documents=batch.documents[start:end], metadatas=batch.metadatas[start:end], uris=batch.uris[start:end])


def _log_progress(collection: str, chunk_no: int, done: int, total: int, started: float, tally: copy.Tally
                  ) -> None:
    elapsed = time.perf_counter() - started
    log.info("collection %r chunk %s: %s/%s rows (%.0f%%), %.0f rows/s; re-embedded %s (%.0f sentences/s), "
             "kept %s old vector(s)", collection, chunk_no, done, total, 100.0 * done / total if total else 100.0,
             done / elapsed if elapsed else 0.0, tally.reembedded,
             tally.reembedded / tally.encode_seconds if tally.encode_seconds else 0.0, tally.kept)

