"""Vector index builds after the load (the kinds of :mod:`vectorops.load.index_kinds`), with the opclass of the
Chroma space and memory sized for the graph."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from vectorops import failpoints
from vectorops.db.sql_files import sql_text, statement
from vectorops.load import index_kinds
from vectorops.load.hnsw_params import pgvector_hnsw
from vectorops.load.index_kinds import (
    HALFVEC_INDEX_MAX_DIMS,
    HALFVEC_OPCLASS,
    OPCLASS,
    VECTOR_INDEX_MAX_DIMS,
    IndexedColumn,
)

log = logging.getLogger(__name__)

__all__ = ["HALFVEC_INDEX_MAX_DIMS", "HALFVEC_OPCLASS", "OPCLASS", "VECTOR_INDEX_MAX_DIMS", "IndexBuild", "IndexSpec",
           "build_index", "estimate_hnsw_mb", "maintenance_mem_mb", "parallel_workers"]


@dataclass(frozen=True)
class IndexBuild:
    """The outcome of an index build.

    :param method: one of :data:`~vectorops.load.index_kinds.METHODS`, or ``none``.
    :param lists: an IVFFlat index's lists (``None`` for the HNSW kinds).
    :param m: an HNSW index's ``m`` as built (``None`` for IVFFlat and no index).
    :param ef_construction: an HNSW index's ``ef_construction`` as built (``None`` for IVFFlat and no index).
    """

    method: str
    index_name: str | None
    seconds: float
    maintenance_work_mem_mb: int
    notices: list[str] = field(default_factory=list)
    lists: int | None = None
    m: int | None = None
    ef_construction: int | None = None


@dataclass(frozen=True)
class IndexSpec:
    """What an index build needs: where, the kind, the Chroma space and parameters, and what sizes its memory.

    :param schema: the table's schema.
    :param table: the table.
    :param index_name: the index (a leftover of that name is replaced).
    :param space: the Chroma space (``l2``, ``cosine``, ``ip``), which picks the opclass.
    :param dimensions: the vectors' length; ``None`` when unknown (an empty collection).
    :param rows: the table's rows, to size ``maintenance_work_mem``.
    :param m: HNSW ``m`` (the build takes it as :func:`~vectorops.load.hnsw_params.pgvector_hnsw` maps it).
    :param ef_construction: HNSW ``ef_construction`` (mapped likewise).
    :param cap_mb: the most ``maintenance_work_mem`` the build may take.
    :param kind: one of :data:`~vectorops.load.index_kinds.KINDS` (default ``hnsw``).
    """

    schema: str
    table: str
    index_name: str
    space: str
    dimensions: int | None
    rows: int
    m: int
    ef_construction: int
    cap_mb: int
    kind: str = "hnsw"


IVFFLAT_MIN_MEM_MB = 64  # the least an IVFFlat build gets


def estimate_hnsw_mb(rows: int, dimensions: int, m: int) -> int:
    """Estimated in-memory HNSW graph size in MB: the vectors plus neighbour lists of every layer."""
    per_element = (8 + 4 * dimensions) + (2 * m) * 10 + (m * 10) // 4 + 120
    return int(rows * per_element * 1.2 / (1024 * 1024)) + 1


def estimate_ivfflat_mb(rows: int, dimensions: int, lists: int, bytes_per_dimension: int = 4) -> int:
    """The memory an IVFFlat build asks for in MB, as pgvector's Elkan k-means checks it before it starts
    (``ElkanKmeans`` in its ``ivfkmeans.c``): room for ``max(lists × 50, 10,000)`` sampled vectors whatever the
    table holds, the centers twice, a float sum a center and dimension, and a float bound a sample and center and a
    center pair (``memory required is 273 MB`` for 1,000 lists of 384 dimensions at 1M rows, measured).

    :param bytes_per_dimension: 4 for ``vector``, 2 for ``halfvec``.
    """
    room = max(lists * 50, 10_000)
    samples = min(rows, room)
    item = (8 + bytes_per_dimension * dimensions + 7) // 8 * 8
    total = ((room + 2 * lists) * item + 4 * lists * dimensions + 8 * samples + 4 * samples * lists
             + 4 * lists * lists + 12 * lists)
    return int(total * 1.05 / (1024 * 1024)) + 8


def ivfflat_mem_mb(rows: int, dimensions: int, cap_mb: int, *, halfvec: bool = False,
                   lists: int | None = None) -> int:
    """``maintenance_work_mem`` for an IVFFlat build: :func:`estimate_ivfflat_mb`, at least
    :data:`IVFFLAT_MIN_MEM_MB`, never above ``cap_mb``.

    :param lists: the index's lists (default: what ``rows`` call for,
        :func:`~vectorops.load.index_kinds.ivfflat_lists`).
    """
    lists = lists or index_kinds.ivfflat_lists(rows)
    return min(cap_mb, max(IVFFLAT_MIN_MEM_MB, estimate_ivfflat_mb(rows, dimensions, lists, 2 if halfvec else 4)))


def parallel_workers() -> int:
    """``max_parallel_maintenance_workers`` for an HNSW build or rebuild: one per core, at most 7.

    Not cores − 1: pgvector's leader spends much of a parallel build coordinating, and on 2 cores 2 workers built
    200,000 × 384 (m 16, ef_construction 100, the graph in memory) in 113 s against 155 s with 1 (issue 23).
    """
    return max(1, min(7, os.cpu_count() or 2))


def maintenance_mem_mb(rows: int, dimensions: int, m: int, cap_mb: int) -> int:
    """``maintenance_work_mem`` for the build: the estimate, at least 64 MB, and never above ``cap_mb``."""
    return min(cap_mb, max(64, estimate_hnsw_mb(rows, dimensions, m)))


def _drop_other_kinds(conn: psycopg.Connection, spec: IndexSpec) -> None:
    """Drop this table's vector index of another kind, left by an attempt that asked for it (a rerun of an adopted
    shadow table with another ``index``): a table has one vector index. Only an index of that name on this very
    table is dropped."""
    base = next((spec.index_name[:-len(s)] for s in index_kinds.SUFFIXES if spec.index_name.endswith(s)), None)
    if base is None:
        return
    table = sql.Identifier(spec.schema, spec.table).as_string(conn)
    for suffix in index_kinds.SUFFIXES:
        other = sql.Identifier(spec.schema, base + suffix)
        if base + suffix != spec.index_name and conn.execute(sql_text("promote/select_index_of_table"),
                                                             (other.as_string(conn), table)).fetchone():
            log.info("table %s.%s: dropping the %s index %s left by an earlier attempt", spec.schema, spec.table,
                     suffix.lstrip("_"), base + suffix)
            conn.execute(sql.SQL("DROP INDEX {}").format(other))


def build_index(conn: psycopg.Connection, spec: IndexSpec) -> IndexBuild:
    """Build ``spec.kind``'s index on ``spec.schema.spec.table`` (replacing a leftover of the same name), then ANALYZE.

    Above 2,000 dimensions an HNSW or IVFFlat index is on ``embedding::halfvec(d)``; above what pgvector can
    index in the kind (4,000; 64,000 for bits) no index is built and a warning says so. With unknown dimensions
    (an empty collection) the index waits for data. An HNSW ``m`` / ``ef_construction`` pgvector cannot take is
    built as :func:`~vectorops.load.hnsw_params.pgvector_hnsw` maps it, with a warning (callers map them before:
    this is for what was recorded before they did). Runs in autocommit mode so that the build is one statement
    and the session settings stay local.

    :param conn: an autocommit connection.
    :param spec: the table, the index, its kind and parameters.
    """
    schema, table, index_name, dimensions, rows = spec.schema, spec.table, spec.index_name, spec.dimensions, spec.rows
    target = sql.Identifier(schema, table)
    column = None if dimensions is None else IndexedColumn(index_kinds.check_kind(spec.kind), spec.space, dimensions)
    if column is None or not column.indexable():
        log.warning("table %s.%s: no %s index (%s)", schema, table, spec.kind,
                    "dimensions unknown until the collection has data" if dimensions is None
                    else f"{dimensions} dimensions exceed what pgvector can index in {spec.kind}")
        conn.execute(sql.SQL("ANALYZE {}").format(target))
        return IndexBuild("none", None, 0.0, 0)
    assert dimensions is not None
    ivfflat = spec.kind == "ivfflat"
    lists = index_kinds.ivfflat_lists(rows) if ivfflat else None
    hnsw = pgvector_hnsw(spec.m, spec.ef_construction)
    if hnsw.adjusted and not ivfflat:
        log.warning("table %s.%s: %s", schema, table, hnsw.note())
    mem_mb = (ivfflat_mem_mb(rows, dimensions, spec.cap_mb, halfvec=column.halfvec, lists=lists) if ivfflat
              else maintenance_mem_mb(rows, index_kinds.graph_dimensions(spec.kind, dimensions), hnsw.m, spec.cap_mb))
    workers = parallel_workers()
    notices: list[str] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        message = diag.message_primary or ""
        notices.append(message)
        log.warning("index build on %s.%s: %s (maintenance_work_mem=%sMB, rows=%s, dims=%s)",
                    schema, table, message, mem_mb, rows, dimensions)

    conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(f"{mem_mb}MB")))
    conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(workers)))
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema, index_name)))
    _drop_other_kinds(conn, spec)
    conn.add_notice_handler(on_notice)
    try:
        failpoints.hit("index_build")
        started = time.perf_counter()
        if ivfflat:
            build = statement("index/create_ivfflat_index", index=sql.Identifier(index_name), table=target,
                              expression=column.expression(), opclass=column.opclass(), lists=sql.Literal(lists))
        else:
            build = statement("index/create_hnsw_index", index=sql.Identifier(index_name), table=target,
                              expression=column.expression(), opclass=column.opclass(), m=sql.Literal(hnsw.m),
                              ef_construction=sql.Literal(hnsw.ef_construction))
        conn.execute(build)
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("ANALYZE {}").format(target))
        conn.execute("RESET maintenance_work_mem")
        conn.execute("RESET max_parallel_maintenance_workers")
    finally:
        conn.remove_notice_handler(on_notice)
    method = "hnsw_halfvec" if spec.kind == "hnsw" and column.halfvec else spec.kind
    if ivfflat:
        return IndexBuild(method, index_name, seconds, mem_mb, notices, lists)
    return IndexBuild(method, index_name, seconds, mem_mb, notices, m=hnsw.m, ef_construction=hnsw.ef_construction)
