"""The load step alone: vectorops' checks, encoding and COPY of records already in memory, and its alternatives.

All four write the same records, read once from the store beforehand (not timed), into a fresh unindexed table
on the same server, timed from the first statement to the commit:

* ``vectorops``: :func:`vectorops.migration.chunk_load.write_fetched`, the loader itself (per-record checks,
  quarantine decisions, binary encoding, one ``COPY ... (FORMAT BINARY)`` fed by a writer thread) into a shadow
  table made by :func:`vectorops.load.shadow.create_shadow`: five columns, UNLOGGED, as a migration writes
  them; then, timed apart, the ``SET LOGGED`` that finalize runs to make it durable;
* ``raw_copy`` (:func:`baselines.raw_copy`): the physical limit, the vectors alone into an UNLOGGED table;
* ``insert_loop`` (:func:`baselines.insert_loop`) and ``executemany``: the usual alternatives, every field.

Import only after :func:`isolation.isolate` ran.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
from baselines import CopyTiming, _fresh_table
from psycopg import sql
from psycopg.types.json import Jsonb
from workloads import SCHEMA

from vectorops.chroma import locate, source, staged
from vectorops.chroma.files import reader
from vectorops.config import Settings
from vectorops.db.bootstrap import bootstrap
from vectorops.db.connect import connect
from vectorops.embedding import policy
from vectorops.load import copy, shadow, unlogged
from vectorops.migration import chunk_load

BATCH = 5_000


def staged_batches(store_path: str, collection: str, limit: int | None = None
                   ) -> Iterator[source.RecordBatch]:
    """The collection's records as a migration reads them: ids and positions from the store's files, sorted
    bytewise as the chunk plan orders them, then fetched in 5,000-record batches (the files reader's thread)."""
    spec = source.SourceSpec(path=store_path)
    files = locate.store_files(spec, collection, "cosine")
    if files is None:
        raise RuntimeError(f"{store_path}: the store's files cannot be read directly")
    ids: list[str] = []
    positions: list[int] = []
    for page, where in reader.iter_id_positions(files):
        ids.extend(page)
        positions.extend(where.tolist())
    order = sorted(range(len(ids)), key=lambda k: ids[k].encode("utf-8", "surrogatepass"))[:limit]
    ids = [ids[k] for k in order]
    positions = [positions[k] for k in order]
    pages = ((ids[i:i + BATCH], positions[i:i + BATCH]) for i in range(0, len(ids), BATCH))
    return (found.records for found in staged.fetch_staged(spec, collection, "cosine", files.stamp, pages))


def read_batches(store_path: str, collection: str, limit: int | None = None) -> list[source.RecordBatch]:
    """:func:`staged_batches`, all in memory."""
    return list(staged_batches(store_path, collection, limit))


def stacked(batches: Sequence[source.RecordBatch]) -> np.ndarray:
    """All vectors of ``batches`` as one float32 array (for the raw COPY baseline)."""
    return np.ascontiguousarray(np.concatenate([np.asarray(b.embeddings, dtype=np.float32) for b in batches]))


def merged(batches: Sequence[source.RecordBatch]) -> source.RecordBatch:
    """``batches`` as one batch (for the row-by-row baselines)."""
    return source.RecordBatch(ids=[i for b in batches for i in b.ids], embeddings=stacked(batches),
                                     documents=[d for b in batches for d in b.documents],
                                     metadatas=[m for b in batches for m in b.metadatas],
                                     uris=[u for b in batches for u in b.uris])


def vectorops_load(settings: Settings, batches: Sequence[source.RecordBatch], space: str,
                   run: int) -> CopyTiming:
    """Check, encode and COPY ``batches`` the way ``migration.chunk_load.copy_chunk`` does, into a fresh shadow table,
    then make it logged as ``migration.finalize`` does (timed apart: ``logged_seconds``).

    :raises RuntimeError: when a record was quarantined or the table does not hold every record.
    """
    dims = int(np.asarray(batches[0].embeddings).shape[1])
    plan = policy.EmbeddingPlan(policy.COPY, dims, dims, None, None, False, "benchmark: source vectors")
    rows = sum(len(b.ids) for b in batches)
    name = f"vectorops_load_{run}"
    with connect(bootstrap(settings), application_name="vectorops-bench") as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, name)))
        shadow.create_shadow(conn, SCHEMA, name, dims)
        conn.commit()
        tally = copy.Tally()
        started = time.perf_counter()
        quarantined = len(chunk_load.write_fetched(conn, SCHEMA, name, batches, plan, space, tally))
        conn.commit()
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        unlogged.make_logged(conn, SCHEMA, name)  # what finalize does before indexing
        conn.commit()
        logged_seconds = time.perf_counter() - started
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, name))).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(SCHEMA, name)))
        conn.commit()
    if quarantined or count is None or count[0] != rows:
        raise RuntimeError(f"vectorops load wrote {count} rows of {rows} ({quarantined} quarantined)")
    return CopyTiming(rows, seconds, logged_seconds)


def executemany(settings: Settings, records: source.RecordBatch, run: int) -> CopyTiming:
    """``cursor.executemany`` of one INSERT over every record (psycopg pipelines it), one commit."""
    from pgvector.psycopg import register_vector

    dims = int(records.embeddings.shape[1])
    columns = f"id text NOT NULL, embedding vector({dims}), document text, metadata jsonb, uri text"
    with connect(bootstrap(settings), application_name="vectorops-bench") as conn:
        register_vector(conn)
        table = _fresh_table(conn, f"executemany_{run}", columns, unlogged=False)
        insert = sql.SQL("INSERT INTO {} (id, embedding, document, metadata, uri) VALUES (%s, %s, %s, %s, %s)"
                         ).format(table)
        started = time.perf_counter()
        params = [(records.ids[i], records.embeddings[i], records.documents[i],
                   None if records.metadatas[i] is None else Jsonb(records.metadatas[i]), records.uris[i])
                  for i in range(len(records.ids))]
        with conn.cursor() as cur:
            cur.executemany(insert, params)
        conn.commit()
        seconds = time.perf_counter() - started
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
        conn.commit()
    if count is None or count[0] != len(records.ids):
        raise RuntimeError(f"executemany loaded {count} rows, not {len(records.ids)}")
    return CopyTiming(len(records.ids), seconds)
