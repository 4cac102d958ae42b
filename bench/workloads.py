"""The timed workloads: a vectorops migration through its real step functions, and the baselines.

Import only after :func:`isolation.isolate` ran, so that ``vectorops`` reads the benchmark's settings.
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from vectorops import chroma_source, db, migration, pgvector_sink
from vectorops.config import Settings

SCHEMA = "bench"


@dataclass(frozen=True)
class MigrationTiming:
    """One migration of a collection, timed per step (seconds, wall clock).

    ``fetch_s`` (Chroma reads) and ``encode_s`` (checks and binary COPY encoding) are parts of ``load_s``;
    ``index_s`` (the HNSW build, as vectorops measured it) is part of ``finalize_s``.
    """

    run_id: str
    rows: int
    loaded: int
    chunks: int
    prepare_s: float
    load_s: float
    fetch_s: float
    encode_s: float
    finalize_s: float
    index_s: float
    wall_s: float
    vectorops_rows_per_s: float

    @property
    def load_rows_per_s(self) -> float:
        """Rows per second of prepare plus every chunk load (no index, no promotion)."""
        return self.rows / (self.prepare_s + self.load_s)

    @property
    def load_without_fetch_rows_per_s(self) -> float:
        """Rows per second of prepare plus the loads, less the time spent in Chroma fetches."""
        return self.rows / max(self.prepare_s + self.load_s - self.fetch_s, 1e-9)

    @property
    def e2e_rows_per_s(self) -> float:
        """Rows per second of the whole migration, index build and promotion included."""
        return self.rows / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form with the derived rates."""
        data = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        data["load_rows_per_s"] = round(self.load_rows_per_s, 1)
        data["load_without_fetch_rows_per_s"] = round(self.load_without_fetch_rows_per_s, 1)
        data["e2e_rows_per_s"] = round(self.e2e_rows_per_s, 1)
        return data


@dataclass(frozen=True)
class CopyTiming:
    """One timed baseline load."""

    rows: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form with the rate."""
        return {"rows": self.rows, "seconds": round(self.seconds, 4), "rows_per_s": round(self.rows_per_s, 1)}


def checkpoint(settings: Settings) -> None:
    """Flush dirty buffers so that one run's writes do not slow the next one down."""
    with db.connect(db.bootstrap(settings), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def reset_schema(settings: Settings) -> None:
    """Drop the benchmark's schema and its bookkeeping rows in the ``vectorops.*`` tables."""
    with db.connect(db.bootstrap(settings), autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        conn.execute("""DELETE FROM vectorops.migration_source_ids WHERE attempt_id IN
                            (SELECT attempt_id FROM vectorops.migration_runs WHERE target_schema = %s)""", (SCHEMA,))
        conn.execute("""DELETE FROM vectorops.quarantine WHERE attempt_id IN
                            (SELECT attempt_id FROM vectorops.migration_runs WHERE target_schema = %s)""", (SCHEMA,))
        conn.execute("DELETE FROM vectorops.migration_runs WHERE target_schema = %s", (SCHEMA,))
        conn.execute("DELETE FROM vectorops.collection_registry WHERE table_schema = %s", (SCHEMA,))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))


def migration_request(store_path: Path, collection: str, settings: Settings) -> Any:
    """``request_from_params({"chroma_path": ..., "target_schema": "bench", ...})``, validated as the DAG does.

    Found in ``vectorops.migration`` or, after its split, in ``vectorops.migration_request``.
    """
    params = {"chroma_path": str(store_path), "target_schema": SCHEMA, "collections": [collection]}
    factory = getattr(migration, "request_from_params", None)
    if factory is None:
        from vectorops import migration_request as requests

        factory = requests.request_from_params
    return factory(params, settings)


@contextmanager
def phase_clock() -> Iterator[dict[str, float]]:
    """Accumulate the seconds spent in ``chroma_source.fetch`` and ``pgvector_sink._encode_batch`` in the block.

    Wraps the module attributes that ``pgvector_sink.copy_chunk`` calls (a few calls per chunk, so the wrapper
    costs nothing measurable) and restores them afterwards. A name missing from the plugin is left alone.
    """
    clock = {"fetch_s": 0.0, "encode_s": 0.0}
    targets = [(chroma_source, "fetch", "fetch_s"), (pgvector_sink, "_encode_batch", "encode_s")]
    originals: list[tuple[Any, str, Callable[..., Any]]] = []

    def timed(func: Callable[..., Any], key: str) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                clock[key] += time.perf_counter() - started
        return wrapper

    for module, name, key in targets:
        func = getattr(module, name, None)
        if callable(func):
            originals.append((module, name, func))
            setattr(module, name, timed(func, key))
    try:
        yield clock
    finally:
        for module, name, func in originals:
            setattr(module, name, func)


def run_migration(settings: Settings, store_path: Path, collection: str, run_id: str,
                  on_step: Callable[[str], None] | None = None) -> MigrationTiming:
    """Migrate ``collection`` in-process: ``prepare``, ``load`` for every chunk, ``finalize``.

    :param on_step: called with ``"prepare"``, ``"load"`` and ``"finalize"`` as each step ends.
    :return: the timing of each step, with the Chroma fetch and row encoding shares of the loads.
    :raises RuntimeError: when the migration did not load every row.
    """
    request = migration_request(store_path, collection, settings)
    started = time.perf_counter()
    plan = migration.prepare(settings, request, collection, run_id)
    prepared = time.perf_counter()
    if on_step:
        on_step("prepare")
    loaded = 0
    with phase_clock() as clock:
        for chunk_no in plan["chunks"]:
            loaded += int(migration.load(settings, plan, chunk_no)["loaded"])
    load_done = time.perf_counter()
    if on_step:
        on_step("load")
    summary = migration.finalize(settings, plan)
    finished = time.perf_counter()
    if on_step:
        on_step("finalize")
    rows = int(plan["info"]["count"])
    if summary["loaded"] != rows or loaded != rows:
        raise RuntimeError(f"migration {run_id} loaded {loaded} of {rows} rows (summary: {summary})")
    return MigrationTiming(
        run_id=run_id, rows=rows, loaded=loaded, chunks=len(plan["chunks"]), prepare_s=prepared - started,
        load_s=load_done - prepared, fetch_s=clock["fetch_s"], encode_s=clock["encode_s"],
        finalize_s=finished - load_done, index_s=float(summary["index_seconds"]), wall_s=finished - started,
        vectorops_rows_per_s=float(summary["rows_per_s"]))


def profile_chunk_load(settings: Settings, store_path: Path, collection: str, run_id: str,
                       limit: int = 20) -> dict[str, Any]:
    """cProfile of ``migration.load`` for the first chunk (after an unprofiled ``prepare``).

    The attempt is left unfinished; call :func:`reset_schema` afterwards.

    :return: the chunk's rows, the profiled seconds and the top ``limit`` functions by own time.
    """
    request = migration_request(store_path, collection, settings)
    plan = migration.prepare(settings, request, collection, run_id)
    profiler = cProfile.Profile()
    result = profiler.runcall(migration.load, settings, plan, plan["chunks"][0])
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{_short_path(filename)}:{line}({name})", "calls": calls,
                     "tottime_s": round(tottime, 4), "cumtime_s": round(cumtime, 4),
                     "tottime_share": round(tottime / total, 4)})
    by_own = sorted(rows, key=lambda r: r["tottime_s"], reverse=True)[:limit]
    by_cumulative = sorted(rows, key=lambda r: r["cumtime_s"], reverse=True)[:limit]
    return {"chunk_rows": int(result["read"]), "profiled_s": round(total, 3), "by_own_time": by_own,
            "by_cumulative_time": by_cumulative}


def _short_path(filename: str) -> str:
    """``vectorops/pgvector_sink.py`` rather than the full site-packages or checkout path."""
    parts = Path(filename).parts
    for anchor in ("vectorops", "chromadb", "psycopg", "numpy", "pgvector"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor):])
    return Path(filename).name if filename.startswith(("/", ".")) else filename


def read_vectors(store_path: Path, collection: str) -> np.ndarray:
    """All embeddings of ``collection`` as one float32 (rows, dims) array (read once, outside any timing)."""
    spec = chroma_source.SourceSpec(path=str(store_path))
    coll = chroma_source.get_collection(spec, collection)
    page = chroma_source.max_batch(spec, 50_000)
    parts: list[np.ndarray] = []
    for ids in chroma_source.iter_id_pages(spec, collection, page):
        got = coll.get(ids=ids, include=["embeddings"])
        parts.append(np.asarray(got["embeddings"], dtype=np.float32))
    return np.ascontiguousarray(np.concatenate(parts))


def read_records(store_path: Path, collection: str, limit: int) -> chroma_source.RecordBatch:
    """The first ``limit`` records (by Chroma's scan order) with every field, for the INSERT baseline."""
    spec = chroma_source.SourceSpec(path=str(store_path))
    page = chroma_source.max_batch(spec, 50_000)
    ids: list[str] = []
    for page_ids in chroma_source.iter_id_pages(spec, collection, page):
        ids.extend(page_ids)
        if len(ids) >= limit:
            break
    ids = ids[:limit]
    batches = [chroma_source.fetch(spec, collection, ids[i:i + page]) for i in range(0, len(ids), page)]
    embeddings = np.concatenate([np.asarray(b.embeddings, dtype=np.float32) for b in batches])
    return chroma_source.RecordBatch(ids=ids, embeddings=embeddings,
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
    with db.connect(db.bootstrap(settings), application_name="vectorops-bench") as conn:
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


def insert_loop(settings: Settings, records: chroma_source.RecordBatch, run: int) -> CopyTiming:
    """The naive load: one ``cursor.execute`` INSERT per record, one commit at the end.

    Into a fresh unindexed table shaped like a vectorops shadow table (id, embedding, document, metadata, uri).
    """
    from pgvector.psycopg import register_vector

    dims = int(records.embeddings.shape[1])
    columns = f"id text NOT NULL, embedding vector({dims}), document text, metadata jsonb, uri text"
    with db.connect(db.bootstrap(settings), application_name="vectorops-bench") as conn:
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
