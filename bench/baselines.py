"""The baselines a migration is measured against: raw binary COPY of the vectors, and a row-by-row INSERT loop.

Import only after :func:`isolation.isolate` ran, so that ``vectorops`` reads the benchmark's settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from workloads import SCHEMA

from vectorops.chroma import fetch, source
from vectorops.config import Settings
from vectorops.db.bootstrap import bootstrap
from vectorops.db.connect import connect


@dataclass(frozen=True)
class CopyTiming:
    """One timed baseline load."""

    rows: int
    seconds: float
    #: the time ``SET LOGGED`` then took, for a load into an unlogged table that is then made durable
    logged_seconds: float | None = None

    @property
    def rows_per_s(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form with the rate (and, with ``logged_seconds``, the rate until the rows are durable)."""
        out = {"rows": self.rows, "seconds": round(self.seconds, 4), "rows_per_s": round(self.rows_per_s, 1)}
        if self.logged_seconds is not None:
            out["logged_seconds"] = round(self.logged_seconds, 4)
            out["durable_rows_per_s"] = round(self.rows / (self.seconds + self.logged_seconds), 1)
        return out


def read_vectors(store_path: Path, collection: str) -> np.ndarray:
    """All embeddings of ``collection`` as one float32 (rows, dims) array (read once, outside any timing)."""
    spec = source.SourceSpec(path=str(store_path))
    coll = source.get_collection(spec, collection)
    page = source.max_batch(spec, 50_000)
    parts: list[np.ndarray] = []
    for ids in fetch.iter_id_pages(spec, collection, page):
        got = coll.get(ids=ids, include=["embeddings"])
        parts.append(np.asarray(got["embeddings"], dtype=np.float32))
    return np.ascontiguousarray(np.concatenate(parts))


def read_records(store_path: Path, collection: str, limit: int) -> source.RecordBatch:
    """The first ``limit`` records (by Chroma's scan order) with every field, for the INSERT baseline."""
    spec = source.SourceSpec(path=str(store_path))
    page = source.max_batch(spec, 50_000)
    ids: list[str] = []
    for page_ids in fetch.iter_id_pages(spec, collection, page):
        ids.extend(page_ids)
        if len(ids) >= limit:
            break
    ids = ids[:limit]
    batches = [fetch.fetch(spec, collection, ids[i:i + page]) for i in range(0, len(ids), page)]
    embeddings = np.concatenate([np.asarray(b.embeddings, dtype=np.float32) for b in batches])
    return source.RecordBatch(ids=ids, embeddings=embeddings,
                                     documents=[d for b in batches for d in b.documents],
                                     metadatas=[m for b in batches for m in b.metadatas],
                                     uris=[u for b in batches for u in b.uris])


def _fresh_table(conn: psycopg.Connection, name: str, columns: str, unlogged: bool) -> sql.Identifier:
    table = sql.Identifier(SCHEMA, name)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    conn.execute(sql.SQL("CREATE {} TABLE {} ({})").format(
        sql.SQL("UNLOGGED" if unlogged else ""), table, sql.SQL(columns)))  # type: ignore[arg-type]
    conn.commit()
    return table


def raw_copy(settings: Settings, vectors: np.ndarray, run: int) -> CopyTiming:
    """Binary COPY of ``vectors`` into a fresh unindexed UNLOGGED ``embedding vector(d)`` table.

    Exactly as pgvector-python documents bulk loading: ``register_vector``, ``set_types(["vector"])`` and one
    ``write_row`` per vector. Timed from the COPY statement to the commit.
    """
    from pgvector.psycopg import register_vector

    dims = int(vectors.shape[1])
    with connect(bootstrap(settings), application_name="vectorops-bench") as conn:
        register_vector(conn)
        table = _fresh_table(conn, f"raw_copy_{run}", f"embedding vector({dims})", unlogged=True)
        cur = conn.cursor()
        started = time.perf_counter()
        with cur.copy(sql.SQL("COPY {} (embedding) FROM STDIN WITH (FORMAT BINARY)").format(table)) as copy:
            copy.set_types(["vector"])
            for embedding in vectors:
                copy.write_row([embedding])
        conn.commit()
        seconds = time.perf_counter() - started
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
        conn.commit()
    if count is None or count[0] != len(vectors):
        raise RuntimeError(f"raw COPY loaded {count} rows, not {len(vectors)}")
    return CopyTiming(len(vectors), seconds)


def insert_loop(settings: Settings, records: source.RecordBatch, run: int) -> CopyTiming:
    """The naive load: one ``cursor.execute`` INSERT per record, one commit at the end.

    Into a fresh unindexed table shaped like a vectorops shadow table (id, embedding, document, metadata, uri).
    """
    from pgvector.psycopg import register_vector

    dims = int(records.embeddings.shape[1])
    columns = f"id text NOT NULL, embedding vector({dims}), document text, metadata jsonb, uri text"
    with connect(bootstrap(settings), application_name="vectorops-bench") as conn:
        register_vector(conn)
        table = _fresh_table(conn, f"insert_loop_{run}", columns, unlogged=False)
        insert = sql.SQL("INSERT INTO {} (id, embedding, document, metadata, uri) VALUES (%s, %s, %s, %s, %s)"
                         ).format(table)
        cur = conn.cursor()
        started = time.perf_counter()
        for i, record_id in enumerate(records.ids):
            meta = records.metadatas[i]
            cur.execute(insert, (record_id, records.embeddings[i], records.documents[i],
                                 None if meta is None else Jsonb(meta), records.uris[i]))
        conn.commit()
        seconds = time.perf_counter() - started
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
        conn.commit()
    if count is None or count[0] != len(records.ids):
        raise RuntimeError(f"INSERT loop loaded {count} rows, not {len(records.ids)}")
    return CopyTiming(len(records.ids), seconds)
