"""Concurrency: QPS and p95 at recall@10 ≥ 0.95 with 1, 4 and 16 clients, pgvector against a ``chroma run`` server.

Issue 23, part 4. On the benchmark's own embedded server (:mod:`isolation`) and the cached embedding-shaped store
of ``rows`` × 384 (:mod:`synthetic_store`, seeded when missing, never written):

* the store is migrated once with ``vectorops migrate`` into the schema ``bench_concurrency_<rows>`` (HNSW as
  migrated: Chroma's m 16, ef_construction 100) and reused while the registry holds it in full;
* a ``chroma run`` server serves a private copy of the store (``bench/.cache/concurrency-<rows>/chroma``, made
  once; the server writes to it: the ef_search of the collection's configuration);
* 200 queries (stored vectors with a little noise, :func:`vectorops.compare.dataset.migrated`) and their exact
  top-10 are the reference;
* each engine is calibrated to the smallest ef_search of the monitor's ladder reaching recall@10 ≥ 0.95 (Chroma's
  server restarted per rung: it applies a changed ef_search only when it loads the index), then, ``runs`` times
  with the engines alternated, each client count runs for ``--seconds`` (:mod:`vectorops.compare.concurrency`);
* Chroma's in-process client at 1 client, at the same ef_search, is the reference line; it runs after the
  server stopped (one process may not serve the directory while another opens it).

Every figure is the median over the runs; ratios are pgvector ÷ Chroma server. Writes
``bench/.cache/concurrency_bench-<rows>.json`` and prints the Markdown table.

``python bench/concurrency_bench.py [--rows 200000] [--runs 3] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import isolation
import workloads

SCHEMA_PREFIX = "bench_concurrency_"
DIMENSIONS = 384
SHAPE = "embedding"
QUERIES = 200
SERVICE = "vectorops-bench-concurrency"


def _say(message: str) -> None:
    print(f"[concurrency-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _in_process(path: Path, collection: str, data: Any, ef_search: int, runs: int, seconds: float,
                passes: int) -> list[dict[str, Any]]:
    """Chroma's in-process client, 1 client, ``runs`` loads at the collection's configured ef_search."""
    from dataclasses import asdict

    from vectorops.compare.concurrency import run_load
    from vectorops.compare.engines import ChromaLocalEngine

    engine = ChromaLocalEngine(path, collection)
    engine.set_effort(ef_search)  # refuses when the configuration holds another ef_search
    return [asdict(run_load(engine, data, 1, seconds, passes, ef_search, run)) for run in range(runs)]


def _per_run_table(result: Any, local: list[dict[str, Any]]) -> str:
    rows = ["| engine | clients | QPS per run | p95 ms per run | recall@10 per run | client CPU % per run |",
            "|---|---|---|---|---|---|"]
    loads = [*map(vars, result.loads), *local]
    for engine in dict.fromkeys(x["engine"] for x in loads):
        for clients in sorted({x["clients"] for x in loads if x["engine"] == engine}):
            mine = sorted((x for x in loads if x["engine"] == engine and x["clients"] == clients),
                          key=lambda x: x["run"])
            rows.append(f"| {engine} | {clients} | " + " | ".join(
                ", ".join(f"{x[key]:{fmt}}" for x in mine) for key, fmt in
                (("qps", ",.1f"), ("p95_ms", ".2f"), ("recall_at_10", ".4f"), ("client_cpu_pct", ".0f"))) + " |")
    return "\n".join(rows)


def run(rows: int, runs: int, seconds: float, passes: int) -> tuple[dict[str, Any], str]:
    """Measure and return the JSON figures and the Markdown report."""
    from search_monitor_bench import _seed
    from synthetic_store import COLLECTION

    from vectorops.chroma.server_process import ChromaServerProcess
    from vectorops.compare import dataset
    from vectorops.compare.concurrency import Engine, measure_concurrency
    from vectorops.compare.concurrency_report import markdown
    from vectorops.compare.engines import ChromaServerEngine, PostgresEngine
    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.store.postgres import PostgresStore

    started, load_at_start = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
    store = _seed(rows, DIMENSIONS, SHAPE)
    dsn = bootstrap(load_settings())
    schema = f"{SCHEMA_PREFIX}{rows}"
    migration = workloads.migrate_once(dsn, store, COLLECTION, rows, schema, say=_say)
    copy = workloads.private_store_copy(store, isolation.CACHE_DIR / f"concurrency-{rows}" / "chroma", _say)
    reader = PostgresStore(dsn, table_schema=schema, service=SERVICE)
    try:
        _say(f"reading {rows:,} records and the exact top-10 of {QUERIES} queries")
        data = dataset.migrated(reader, COLLECTION, rows, QUERIES)
    finally:
        reader.close()
    measuring = time.perf_counter()
    with ChromaServerProcess(copy, start_timeout_s=600) as server:
        engines: list[Engine] = [PostgresEngine(dsn, schema, COLLECTION, SERVICE),
                                 ChromaServerEngine(server, COLLECTION)]
        _say(f"calibrating, then {runs} runs of {seconds:g} s per load")
        result = measure_concurrency(engines, data, (1, 4, 16), seconds, passes, runs)
    chroma_ef = result.calibrations[1].value
    _say(f"Chroma in-process, 1 client, ef_search {chroma_ef}")
    local = _in_process(copy, COLLECTION, data, chroma_ef, runs, seconds, passes)
    local_median = {key: round(statistics.median(x[key] for x in local), 4)
                    for key in ("qps", "p50_ms", "p95_ms", "p99_ms", "recall_at_10", "client_cpu_pct")}
    server_1 = next(m for m in result.medians() if m["engine"] == "chroma server" and m["clients"] == 1)
    figures = {
        "rows": rows, "dimensions": DIMENSIONS, "shape": SHAPE, "queries": QUERIES, "schema": schema,
        "cores": os.cpu_count(), "load_average_at_start": load_at_start, "migration": migration,
        **result.as_dict(),
        "chroma_in_process": {"loads": local, "median": {"clients": 1, "setting_value": chroma_ef, **local_median},
                              "server_1_client_qps_ratio": round(server_1["qps"] / local_median["qps"], 3)},
        "measure_s": round(time.perf_counter() - measuring, 1), "elapsed_s": round(time.perf_counter() - started, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    text = "\n".join([
        f"## Concurrency at {rows:,} × {DIMENSIONS} ({SHAPE}), {QUERIES} queries, recall@10 ≥ 0.95",
        f"Medians of {runs} runs (engines alternated), up to {seconds:g} s per load; load average "
        f"{load_at_start} at the start, {figures['load_average_at_end']} at the end.", "",
        markdown(result), "",
        f"Chroma in-process (1 client, ef_search {chroma_ef}): {local_median['qps']:,.1f} QPS, p95 "
        f"{local_median['p95_ms']:.2f} ms, recall@10 {local_median['recall_at_10']:.4f}, client CPU "
        f"{local_median['client_cpu_pct']:.0f} %; the server at 1 client "
        f"does {figures['chroma_in_process']['server_1_client_qps_ratio']}× its QPS.", "",
        *(f"- calibrated: {c.describe()}; ladder {c.ladder}" for c in result.calibrations),
        *(f"- note: {n}" for n in result.notes), "", "Every run:", "", _per_run_table(result, local)])
    return figures, text


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python bench/concurrency_bench.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="the most one load runs (default 10)")
    parser.add_argument("--passes", type=int, default=1000, help="the most passes per client over the queries")
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark's PostgreSQL running")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1 or args.seconds <= 0:
        parser.error("--rows, --runs and --seconds must be positive")
    isolation.isolate()
    from vectorops.config import load_settings
    from vectorops.db import runtime

    settings = load_settings()
    was_running = runtime.running_port(settings.pgdata) is not None
    try:
        figures, text = run(args.rows, args.runs, args.seconds, args.passes)
    finally:
        if not was_running and not args.keep_server:
            runtime.stop(settings)
    out = isolation.CACHE_DIR / f"concurrency_bench-{args.rows}.json"
    out.write_text(json.dumps(figures, indent=1) + "\n")
    print(text)
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
