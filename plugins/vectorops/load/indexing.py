"""HNSW index builds after the load, with the opclass of the Chroma space and memory sized for the graph."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from vectorops import failpoints
from vectorops.db.sql_files import statement

log = logging.getLogger(__name__)

OPCLASS = {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops"}
HALFVEC_OPCLASS = {"l2": "halfvec_l2_ops", "cosine": "halfvec_cosine_ops", "ip": "halfvec_ip_ops"}
VECTOR_INDEX_MAX_DIMS = 2000
HALFVEC_INDEX_MAX_DIMS = 4000


@dataclass(frozen=True)
class IndexBuild:
    """The outcome of an index build. ``method`` is ``hnsw``, ``hnsw_halfvec`` or ``none``."""

    method: str
    index_name: str | None
    seconds: float
    maintenance_work_mem_mb: int
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HnswSpec:
    """What an HNSW build needs: where, the Chroma space and parameters, and what sizes its memory.

    :param schema: the table's schema.
    :param table: the table.
    :param index_name: the index (a leftover of that name is replaced).
    :param space: the Chroma space (``l2``, ``cosine``, ``ip``), which picks the opclass.
    :param dimensions: the vectors' length; ``None`` when unknown (an empty collection).
    :param rows: the table's rows, to size ``maintenance_work_mem``.
    :param m: HNSW ``m``.
    :param ef_construction: HNSW ``ef_construction``.
    :param cap_mb: the most ``maintenance_work_mem`` the build may take.
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


def estimate_hnsw_mb(rows: int, dimensions: int, m: int) -> int:
    """Estimated in-memory HNSW graph size in MB: the vectors plus neighbour lists of every layer."""
    per_element = (8 + 4 * dimensions) + (2 * m) * 10 + (m * 10) // 4 + 120
    return int(rows * per_element * 1.2 / (1024 * 1024)) + 1


def parallel_workers() -> int:
    """``max_parallel_maintenance_workers`` for an HNSW build or rebuild: one per core, at most 7.

    Not cores − 1: pgvector's leader spends much of a parallel build coordinating, and on 2 cores 2 workers built
    200,000 × 384 (m 16, ef_construction 100, the graph in memory) in 113 s against 155 s with 1 (issue 23).
    """
    return max(1, min(7, os.cpu_count() or 2))


def maintenance_mem_mb(rows: int, dimensions: int, m: int, cap_mb: int) -> int:
    """``maintenance_work_mem`` for the build: the estimate, at least 64 MB, and never above ``cap_mb``."""
    return min(cap_mb, max(64, estimate_hnsw_mb(rows, dimensions, m)))


def build_hnsw(conn: psycopg.Connection, spec: HnswSpec) -> IndexBuild:
    """Build the HNSW index on ``spec.schema.spec.table`` (replacing a leftover of the same name), then ANALYZE.

    Above 2,000 dimensions the index is on ``embedding::halfvec(d)``; above 4,000 no index is built
    and a warning says so. With unknown dimensions (an empty collection) the index waits for data.
    Runs in autocommit mode so that the build is one statement and the session settings stay local.

    :param conn: an autocommit connection.
    :param spec: the table, the index and its parameters.
    """
    schema, table, index_name, space, dimensions = spec.schema, spec.table, spec.index_name, spec.space, spec.dimensions
    rows, m, ef_construction, cap_mb = spec.rows, spec.m, spec.ef_construction, spec.cap_mb
    target = sql.Identifier(schema, table)
    if dimensions is None or dimensions > HALFVEC_INDEX_MAX_DIMS:
        log.warning("table %s.%s: no HNSW index (%s)", schema, table,
                    "dimensions unknown until the collection has data" if dimensions is None
                    else f"{dimensions} dimensions exceed pgvector's index limit of {HALFVEC_INDEX_MAX_DIMS}")
        conn.execute(sql.SQL("ANALYZE {}").format(target))
        return IndexBuild("none", None, 0.0, 0)
    mem_mb = maintenance_mem_mb(rows, dimensions, m, cap_mb)
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
    conn.add_notice_handler(on_notice)
    try:
        halfvec = dimensions > VECTOR_INDEX_MAX_DIMS
        expression = (sql.SQL("(embedding::halfvec({}))").format(sql.Literal(dimensions)) if halfvec
                      else sql.SQL("embedding"))
        opclass = (HALFVEC_OPCLASS if halfvec else OPCLASS)[space]
        failpoints.hit("index_build")
        started = time.perf_counter()
        conn.execute(statement("index/create_hnsw_index", index=sql.Identifier(index_name), table=target,
                                  expression=expression, opclass=sql.SQL(opclass), m=sql.Literal(m),
                                  ef_construction=sql.Literal(ef_construction)))
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("ANALYZE {}").format(target))
        conn.execute("RESET maintenance_work_mem")
        conn.execute("RESET max_parallel_maintenance_workers")
    finally:
        conn.remove_notice_handler(on_notice)
    return IndexBuild("hnsw_halfvec" if halfvec else "hnsw", index_name, seconds, mem_mb, notices)
