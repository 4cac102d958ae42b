"""HNSW rebuild time: vectorops maintenance against a plain ``REINDEX INDEX CONCURRENTLY`` on server defaults.

``python bench/maintenance_bench.py [--collection NAME] [--runs R]`` runs in the search benchmark's server
(``bench/.cache/monitor-home``) on a table ``bench/search_monitor_bench.py --keep-server`` migrated there,
default the largest one. Alternating, R times each:

* ``vectorops``: a rebuild request is put in ``vectorops.index_health`` and ``maintenance.executor.maintain``
  runs it: ``maintenance_work_mem`` sized from the estimated graph, ``max_parallel_maintenance_workers`` =
  cores − 1, the graph NOTICE captured;
* ``baseline``: ``REINDEX INDEX CONCURRENTLY`` in a fresh session with the server's defaults.

Prints JSON with the medians, their ratio (baseline seconds ÷ vectorops seconds) and whether the graph
outgrew ``maintenance_work_mem``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))


def _baseline(dsn: str, schema: str, index: str) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    notices: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        memory = conn.execute("SHOW maintenance_work_mem").fetchone()[0]
        workers = conn.execute("SHOW max_parallel_maintenance_workers").fetchone()[0]
        started = time.perf_counter()
        conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(schema, index)))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "maintenance_work_mem": memory, "workers": int(workers),
            "graph_exceeded_memory": any("no longer fits" in n for n in notices)}


def _vectorops(settings: Any, dsn: str, collection: str, schema: str, table: str) -> dict[str, Any]:
    import psycopg

    from vectorops.maintenance import executor

    with psycopg.connect(dsn, autocommit=True) as conn:
        # a request with no ef_search advice behind it: maintenance honours it with a rebuild
        conn.execute("""UPDATE vectorops.index_health SET rebuild_reason = 'benchmark', rebuild_requested_at = now(),
                               advised_ef_search = NULL, advised_recall = NULL
                        WHERE table_schema = %s AND table_name = %s""", (schema, table))
    results = executor.maintain(settings, [collection], run_id="bench-maintenance")
    executor.raise_for_failures(results)
    (rebuild,) = [r for r in results if r.action.kind == "reindex"]
    return {"seconds": rebuild.seconds, "maintenance_work_mem": f"{rebuild.details['maintenance_work_mem_mb']}MB",
            "workers": rebuild.details["parallel_workers"], "estimated_graph_mb": rebuild.details["estimated_graph_mb"],
            "graph_exceeded_memory": rebuild.details["graph_exceeded_memory"], "rows": rebuild.details["rows"]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", help="migrated collection (default: the largest in the registry)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    from search_monitor_bench import _isolate

    _isolate()
    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    settings = load_settings()
    dsn = bootstrap(settings)
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            """SELECT collection, table_schema, table_name, index_name, loaded_count FROM vectorops.collection_registry
               WHERE (%s::text IS NULL OR collection = %s) ORDER BY loaded_count DESC LIMIT 1""",
            (args.collection, args.collection)).fetchone()
    if row is None:
        print("no migrated table in the benchmark server: run bench/search_monitor_bench.py --keep-server first",
              file=sys.stderr)
        return 2
    collection, schema, table, index, rows = row
    runs: dict[str, list[dict[str, Any]]] = {"vectorops": [], "baseline": []}
    for i in range(args.runs):
        order = ("vectorops", "baseline") if i % 2 == 0 else ("baseline", "vectorops")
        for name in order:
            result = (_vectorops(settings, dsn, collection, schema, table) if name == "vectorops"
                      else _baseline(dsn, schema, index))
            runs[name].append(result)
            print(f"[bench] {name} run {i + 1}: {result['seconds']:.1f} s", file=sys.stderr, flush=True)
    medians = {name: statistics.median(r["seconds"] for r in results) for name, results in runs.items()}
    print(json.dumps({"collection": collection, "table": f"{schema}.{table}", "rows": rows, "runs": runs,
                      "median_seconds": medians, "ratio": round(medians["baseline"] / medians["vectorops"], 3),
                      "ratio_is": "baseline REINDEX seconds ÷ vectorops REINDEX seconds"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
