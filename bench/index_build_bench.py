"""HNSW build time: vectorops' build against a hand-tuned ``CREATE INDEX`` on the same table (issue 6, figure 4).

:func:`run` copies a loaded table to ``<schema>.index_bench`` (the live table and its index stay untouched),
then builds an HNSW index on the copy, alternating, ``runs`` times each:

* ``vectorops``: :func:`vectorops.load.indexing.build_index` exactly as ``migration.finalize`` calls it (m and
  ef_construction of the collection, 16 and 100 when the registry has none; ``cap_mb`` =
  ``settings.max_maintenance_work_mem_mb``): ``maintenance_work_mem`` from ``estimate_hnsw_mb``,
  ``max_parallel_maintenance_workers`` = one per core. Its time is the ``CREATE INDEX`` alone, as vectorops
  records it; the call's wall time (with its ANALYZE) is reported beside it.
* ``hand_tuned``: ``SET maintenance_work_mem`` to twice the larger of vectorops' estimate and the graph as
  measured (:func:`graph_bytes_per_row`: pgvector's own accounting on a small sample, times the rows), so it
  fits with room to spare; ``SET max_parallel_maintenance_workers`` the same; then the same
  ``CREATE INDEX ... USING hnsw (embedding <opclass>) WITH (m, ef_construction)``.

The index is dropped and a CHECKPOINT taken before every build. pgvector's "graph no longer fits into
maintenance_work_mem" NOTICE is captured for both. The figure is ``ratio`` = median vectorops seconds ÷ median
hand-tuned seconds (target ≤ 1.1).

``python bench/index_build_bench.py [--rows 20000] [--runs 3]`` runs it standalone: the benchmark's own server
(:mod:`isolation`), a migration of the synthetic store into schema ``bench`` (:func:`workloads.run_migration`),
then :func:`run` on the promoted table; it prints the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import statistics
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

COPY_TABLE = "index_bench"
INDEX_NAME = f"{COPY_TABLE}_hnsw"
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 100
HAND_TUNED_HEADROOM = 2
TARGET_RATIO = 1.1
GRAPH_NOTICE = "no longer fits"
PROBE_ROWS = 4000
PROBE_MEMORY_MB = 4


def _say(message: str) -> None:
    print(f"[index-build-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _workers() -> int:
    """The workers :func:`vectorops.load.indexing.build_index` sets (one per core since issue 23; the hand-tuned
    build gets the same, so the two differ in memory alone)."""
    from vectorops.load.indexing import parallel_workers

    return parallel_workers()


def _table_shape(conn: psycopg.Connection, schema: str, table: str) -> dict[str, Any]:
    """Rows, dimensions and the HNSW parameters the registry recorded for the table (16 and 100 without)."""
    target = sql.Identifier(schema, table)
    rows = int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0])
    dims = conn.execute(sql.SQL("SELECT vector_dims(embedding) FROM {} WHERE embedding IS NOT NULL LIMIT 1")
                        .format(target)).fetchone()
    registry = conn.execute("""SELECT hnsw_m, hnsw_ef_construction FROM vectorops.collection_registry
                               WHERE table_schema = %s AND table_name = %s""", (schema, table)).fetchone()
    return {"rows": rows, "dimensions": int(dims[0]) if dims else None,
            "m": int(registry[0]) if registry and registry[0] else DEFAULT_M,
            "ef_construction": int(registry[1]) if registry and registry[1] else DEFAULT_EF_CONSTRUCTION}


def graph_bytes_per_row(conn: psycopg.Connection, schema: str, table: str, space: str, m: int) -> float | None:
    """Measured in-memory HNSW graph bytes per row: pgvector's own accounting, read from its NOTICE.

    Builds an index on a temporary copy of ``PROBE_ROWS`` rows with ``maintenance_work_mem`` of ``PROBE_MEMORY_MB``
    and no workers; pgvector says after how many tuples the graph no longer fit. The graph's size per element
    depends on the dimension and m, not on ef_construction (the cheapest allowed, 2m, is used).

    :return: ``None`` when the sample fit (too few rows to fill the memory).
    """
    from vectorops.load.indexing import OPCLASS

    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    with conn.transaction():
        conn.execute(sql.SQL("CREATE TEMPORARY TABLE graph_probe ON COMMIT DROP AS SELECT embedding FROM {} "
                             "WHERE embedding IS NOT NULL LIMIT {}").format(sql.Identifier(schema, table),
                                                                           sql.Literal(PROBE_ROWS)))
        conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(f"{PROBE_MEMORY_MB}MB")))
        conn.execute("SET LOCAL max_parallel_maintenance_workers = 0")
        conn.execute(sql.SQL("CREATE INDEX ON graph_probe USING hnsw (embedding {}) "
                             "WITH (m = {}, ef_construction = {})").format(sql.SQL(OPCLASS[space]), sql.Literal(m),
                                                                          sql.Literal(2 * m)))
    for notice in notices:
        found = re.search(r"no longer fits into maintenance_work_mem after (\d+) tuples", notice)
        if found:
            return PROBE_MEMORY_MB * 1024 * 1024 / int(found.group(1))
    return None


def hand_tuned_memory_mb(estimate_mb: int, measured_mb: float | None) -> int:
    """``maintenance_work_mem`` of the hand-tuned build: twice the larger of the estimate and the measured graph.

    :param estimate_mb: :func:`vectorops.load.indexing.estimate_hnsw_mb` for the table.
    :param measured_mb: the graph's size from :func:`graph_bytes_per_row`, if it could be measured.
    """
    return max(64, HAND_TUNED_HEADROOM * max(estimate_mb, math.ceil(measured_mb or 0)))


def _reset(dsn: str, schema: str) -> None:
    """Drop the copy's index and flush dirty buffers, so one build does not pay for the previous one's writes."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema, INDEX_NAME)))
        conn.execute("CHECKPOINT")


def _build_vectorops(dsn: str, settings: Any, schema: str, space: str, shape: dict[str, Any]) -> dict[str, Any]:
    from vectorops.load import indexing

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        build = indexing.build_index(conn, indexing.IndexSpec(
            schema=schema, table=COPY_TABLE, index_name=INDEX_NAME, space=space, dimensions=shape["dimensions"],
            rows=shape["rows"], m=shape["m"], ef_construction=shape["ef_construction"],
            cap_mb=settings.max_maintenance_work_mem_mb))
        wall = time.perf_counter() - started
        index_bytes = conn.execute("SELECT pg_relation_size(%s::regclass)",
                                   (sql.Identifier(schema, INDEX_NAME).as_string(conn),)).fetchone()[0]
    return {"seconds": round(build.seconds, 3), "wall_seconds_with_analyze": round(wall, 3),
            "maintenance_work_mem_mb": build.maintenance_work_mem_mb, "method": build.method,
            "index_bytes": int(index_bytes), "notices": build.notices,
            "graph_exceeded_memory": any(GRAPH_NOTICE in n for n in build.notices)}


def _build_hand_tuned(dsn: str, schema: str, space: str, shape: dict[str, Any], memory_mb: int,
                      workers: int) -> dict[str, Any]:
    from vectorops.load.indexing import OPCLASS

    notices: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(f"{memory_mb}MB")))
        conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(workers)))
        statement = sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding {}) WITH (m = {}, ef_construction = {})")\
            .format(sql.Identifier(INDEX_NAME), sql.Identifier(schema, COPY_TABLE), sql.SQL(OPCLASS[space]),
                    sql.Literal(shape["m"]), sql.Literal(shape["ef_construction"]))
        started = time.perf_counter()
        conn.execute(statement)
        seconds = time.perf_counter() - started
        index_bytes = conn.execute("SELECT pg_relation_size(%s::regclass)",
                                   (sql.Identifier(schema, INDEX_NAME).as_string(conn),)).fetchone()[0]
    return {"seconds": round(seconds, 3), "maintenance_work_mem_mb": memory_mb, "index_bytes": int(index_bytes),
            "notices": notices, "graph_exceeded_memory": any(GRAPH_NOTICE in n for n in notices)}


def _copy_table(dsn: str, schema: str, table: str) -> None:
    """``<schema>.index_bench`` with every row of ``table``, vacuumed so no build pays for setting hint bits."""
    copy = sql.Identifier(schema, COPY_TABLE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(copy))
        conn.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(copy, sql.Identifier(schema, table)))
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(copy))


def _drop_copy(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, COPY_TABLE)))


def run(settings: Any, schema: str, table: str, space: str, runs: int = 3) -> dict[str, Any]:
    """Time vectorops' HNSW build and a hand-tuned one on a copy of ``schema.table``, alternating.

    :param settings: the benchmark's settings (its server must be up: ``db.bootstrap(settings)``).
    :param schema: schema of a loaded vector table; the copy is made there and dropped at the end.
    :param table: the table (``id``, ``embedding vector(d)``, ...); it is only read.
    :param space: ``l2`` | ``cosine`` | ``ip``: the opclass of both builds.
    :param runs: builds of each kind; medians are reported.
    :return: medians, every run, ``ratio`` (vectorops ÷ hand-tuned), the settings of both and the graph NOTICEs.
    """
    from vectorops.db.bootstrap import bootstrap
    from vectorops.load import indexing

    started = time.perf_counter()
    dsn = bootstrap(settings)
    with psycopg.connect(dsn, autocommit=True) as conn:
        shape = _table_shape(conn, schema, table)
        server = {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                  for name in ("maintenance_work_mem", "max_parallel_maintenance_workers", "max_parallel_workers",
                               "max_worker_processes", "shared_buffers", "dynamic_shared_memory_type")}
    if shape["dimensions"] is None or shape["dimensions"] > indexing.VECTOR_INDEX_MAX_DIMS:
        raise ValueError(f"{schema}.{table}: {shape['dimensions']} dimensions, need a vector index of at most "
                         f"{indexing.VECTOR_INDEX_MAX_DIMS}")
    estimate_mb = indexing.estimate_hnsw_mb(shape["rows"], shape["dimensions"], shape["m"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        per_row = graph_bytes_per_row(conn, schema, table, space, shape["m"])
    measured_mb = None if per_row is None else round(per_row * shape["rows"] / (1024 * 1024), 1)
    workers = _workers()
    ours_mb = indexing.maintenance_mem_mb(shape["rows"], shape["dimensions"], shape["m"],
                                          settings.max_maintenance_work_mem_mb)
    hand_mb = hand_tuned_memory_mb(estimate_mb, measured_mb)
    _say(f"copying {schema}.{table} ({shape['rows']:,} rows × {shape['dimensions']}) to {schema}.{COPY_TABLE}")
    _copy_table(dsn, schema, table)
    results: dict[str, list[dict[str, Any]]] = {"vectorops": [], "hand_tuned": []}
    try:
        for i in range(runs):
            order = ("vectorops", "hand_tuned") if i % 2 == 0 else ("hand_tuned", "vectorops")
            for name in order:
                _reset(dsn, schema)
                result = (_build_vectorops(dsn, settings, schema, space, shape) if name == "vectorops"
                          else _build_hand_tuned(dsn, schema, space, shape, hand_mb, workers))
                results[name].append(result)
                outgrew = " (the graph outgrew it)" if result["graph_exceeded_memory"] else ""
                _say(f"{name} build {i + 1}/{runs}: {result['seconds']:.2f} s at "
                     f"{result['maintenance_work_mem_mb']} MB{outgrew}")
    finally:
        _drop_copy(dsn, schema)
    medians = {name: round(statistics.median(r["seconds"] for r in rs), 3) for name, rs in results.items()}
    ratio = round(medians["vectorops"] / medians["hand_tuned"], 3)
    return {
        "table": f"{schema}.{table}", "copy": f"{schema}.{COPY_TABLE}", "space": space, **shape,
        "measured_graph": {"bytes_per_row": None if per_row is None else round(per_row),
                           "mb": measured_mb, "how": f"pgvector's NOTICE on a {PROBE_ROWS}-row sample built in "
                                                     f"{PROBE_MEMORY_MB} MB"},
        "cores": os.cpu_count(), "runs": runs, "server_defaults": server,
        "vectorops": {"maintenance_work_mem_mb": ours_mb, "estimated_graph_mb": estimate_mb,
                      "cap_mb": settings.max_maintenance_work_mem_mb,
                      "fits_measured_graph": None if measured_mb is None else ours_mb >= measured_mb,
                      "max_parallel_maintenance_workers": workers, "median_seconds": medians["vectorops"],
                      "median_wall_seconds_with_analyze": round(statistics.median(
                          r["wall_seconds_with_analyze"] for r in results["vectorops"]), 3),
                      "runs": results["vectorops"]},
        "hand_tuned": {"maintenance_work_mem_mb": hand_mb,
                       "memory_rule": f"{HAND_TUNED_HEADROOM} × max(vectorops' estimate {estimate_mb} MB, measured "
                                      f"graph {measured_mb} MB), at least 64 MB",
                       "max_parallel_maintenance_workers": workers, "median_seconds": medians["hand_tuned"],
                       "runs": results["hand_tuned"]},
        "graph_exceeded_memory": {name: any(r["graph_exceeded_memory"] for r in rs) for name, rs in results.items()},
        "median_seconds": medians, "ratio": ratio,
        "ratio_is": "vectorops CREATE INDEX seconds ÷ hand-tuned CREATE INDEX seconds (medians)",
        "target": TARGET_RATIO, "meets_target": ratio <= TARGET_RATIO,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python bench/index_build_bench.py``; prints the JSON of :func:`run`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--shape", choices=("gaussian", "embedding"), default="gaussian",
                        help="the synthetic store's vectors (default gaussian, the store run_bench.py migrates)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark's server running")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be at least 1")
    import isolation

    isolation.isolate()
    import workloads
    from search_monitor_bench import _seed
    from synthetic_store import COLLECTION, DIMENSIONS, SPACE

    from vectorops.config import load_settings
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap

    with contextlib.redirect_stdout(sys.stderr):  # the progress lines of search_monitor_bench
        store = _seed(args.rows, DIMENSIONS, args.shape)
    settings = load_settings()
    dsn = bootstrap(settings)
    try:
        workloads.reset_schema(settings)
        _say(f"migrating {store.name} into schema {workloads.SCHEMA}")
        timing = workloads.run_migration(settings, store, COLLECTION, f"index-build-bench-{int(time.time())}")
        with psycopg.connect(dsn, autocommit=True) as conn:
            (table,) = conn.execute("""SELECT table_name FROM vectorops.collection_registry
                                       WHERE collection = %s AND table_schema = %s""",
                                    (COLLECTION, workloads.SCHEMA)).fetchone()
        result = run(settings, workloads.SCHEMA, table, SPACE, args.runs)
        result["migration_index_seconds"] = round(timing.index_s, 3)
        workloads.reset_schema(settings)
    finally:
        if not args.keep_server:
            runtime.stop(settings)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
