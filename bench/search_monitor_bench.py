"""Search monitor at 100k × 384: pgvector p95 and recall@10 at the default and advised ef_search, against Chroma.

``python bench/search_monitor_bench.py [--rows 100000]`` seeds (or reuses) the deterministic synthetic store of
``synthetic_store.py``, migrates it into the schema ``bench_monitor`` of its own embedded server under
``bench/.cache/monitor-home`` (so it never meets ``run_bench.py``'s server), and runs the monitor
(:func:`vectorops.monitor.monitor_table`) at the collection's own ef_search (Chroma's, recorded at migration),
at pgvector's default 40, and at the ef_search it advises. In the same run it times Chroma's own
``collection.query`` on the same probe vectors (one warm-up and two timed passes, k + 1 asked and the probe's
own record dropped, as the monitor does) and scores it against the same exact top-10. Not part of the test suite.

It writes ``bench/search_monitor_results.json`` and prints a small table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import isolation

SCHEMA = "bench_monitor"
HOME = isolation.CACHE_DIR / "monitor-home"
PGVECTOR_DEFAULT_EF = 40


def _say(message: str) -> None:
    print(f"[monitor-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _isolate() -> None:
    """Our own home and port (see :mod:`isolation`), chosen before vectorops reads its settings."""
    HOME.mkdir(parents=True, exist_ok=True)
    for name in ("VECTOROPS_DSN", "CHROMA_DB_PATH", "VECTOROPS_OWNER_TOKEN", "VECTOROPS_HNSW_EF_SEARCH"):
        os.environ.pop(name, None)
    os.environ["VECTOROPS_HOME"] = str(HOME)
    os.environ["VECTOROPS_DB_PORT"] = str(isolation.choose_port(HOME))
    for name, value in (("ANONYMIZED_TELEMETRY", "False"), ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")):
        os.environ.setdefault(name, value)


def _seed(rows: int, dimensions: int, shape: str) -> Path:
    from synthetic_store import is_seeded, store_path

    path = store_path(isolation.CACHE_DIR, rows, dimensions, shape)
    if is_seeded(path, rows, dimensions, shape):
        _say(f"reusing the seeded store {path}")
        return path
    _say(f"seeding {rows:,} × {dimensions} ({shape}) into {path}")
    subprocess.run([sys.executable, str(isolation.BENCH_DIR / "synthetic_store.py"), "--rows", str(rows),
                    "--dimensions", str(dimensions), "--path", str(path), "--shape", shape], check=True)
    return path


def _migrate(settings: Any, store: Path, collection: str, rows: int, again: bool) -> dict[str, Any]:
    """Migrate unless the server already holds this store's table in full (``--remigrate`` forces it)."""
    import workloads

    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    with connect(bootstrap(settings), autocommit=True) as conn:
        found = conn.execute("""SELECT loaded_count, source_uri FROM vectorops.collection_registry
                                WHERE collection = %s AND table_schema = %s""", (collection, SCHEMA)).fetchone()
    if found and found[0] == rows and str(store) in str(found[1]) and not again:
        _say(f"reusing the migrated table of {collection} in schema {SCHEMA}")
        return {"reused": True}
    _say(f"migrating {collection} into schema {SCHEMA}")
    timing = workloads.run_migration(settings, store, collection, f"monitor-bench-{int(time.time())}", schema=SCHEMA)
    return {"reused": False, "seconds": round(timing.wall_s, 1), "index_seconds": timing.index_s}


def _monitor(settings: Any, collection: str, ef: int | None, label: str) -> dict[str, Any]:
    from vectorops.monitor import monitor_table

    tuned = dataclasses.replace(settings, monitor=dataclasses.replace(settings.monitor, ef_search=ef))
    m = monitor_table(tuned, collection, f"monitor-bench-{label}")
    _say(f"pgvector {label}: {m.describe()}")
    return {"label": label, "ef_search": m.ef_search, "p50_ms": m.p50_ms, "p95_ms": m.p95_ms, "p99_ms": m.p99_ms,
            "recall_at_10": m.recall_at_10, "filter": m.filter, "filtered_recall_at_10": m.filtered_recall_at_10,
            "filtered_p95_ms": m.filtered_p95_ms, "advised_ef_search": m.advised_ef_search,
            "advised_recall": m.advised_recall, "index_used": m.index_used, "row_count": m.row_count,
            "table_bytes": m.table_bytes, "index_bytes": m.index_bytes, "breaches": sorted(m.breached),
            "ef_ladder": m.details.get("ef_ladder"), "seconds": m.seconds}


def _chroma(settings: Any, store: Path, collection: str, metadata_filter: dict[str, Any] | None) -> dict[str, Any]:
    """Chroma's own query on the monitor's probe set, scored against pgvector's exact top-10."""
    from pgvector.psycopg import register_vector

    from vectorops.chroma import source
    from vectorops.db import runtime
    from vectorops.db.connect import connect
    from vectorops.monitor import probe_queries
    from vectorops.monitor.latency import percentiles
    from vectorops.monitor.probe_set import stored_probe_set
    from vectorops.monitor.target import load_target

    with connect(runtime.start(settings), autocommit=True) as conn:
        register_vector(conn)
        target = load_target(conn, collection, None)
        probes = stored_probe_set(conn, target)
        assert probes is not None
        exact = probe_queries.exact_round(conn, target, probes.record_ids, probes.vectors)
        exact_filtered = (probe_queries.exact_round(conn, target, probes.record_ids, probes.vectors, metadata_filter)
                          if metadata_filter else None)
    spec = source.SourceSpec(path=str(store))
    col = source.get_collection(spec, collection)
    result: dict[str, Any] = {"ef_search": source.describe(spec, collection).hnsw_ef_search}
    for name, where, truth in (("", None, exact), ("filtered_", metadata_filter, exact_filtered)):
        if truth is None:
            continue
        found: list[list[str]] = []
        timings: list[float] = []
        for round_no in range(3):  # one warm-up pass, two timed ones, as the monitor does
            for record_id, vector in zip(probes.record_ids, probes.vectors, strict=True):
                started = time.perf_counter()
                ids = col.query(query_embeddings=[vector], n_results=11, where=where, include=[])["ids"][0]
                elapsed = (time.perf_counter() - started) * 1000.0
                if round_no == 0:
                    found.append([i for i in ids if i != record_id][:10])
                else:
                    timings.append(elapsed)
        latency = percentiles(timings)
        result.update({f"{name}p50_ms": latency.p50_ms, f"{name}p95_ms": latency.p95_ms,
                       f"{name}p99_ms": latency.p99_ms, f"{name}recall_at_10": probe_queries.recall(truth, found)})
    _say(f"chroma: p95 {result['p95_ms']} ms, recall@10 {result['recall_at_10']:.3f}")
    return result


def _table(results: dict[str, Any]) -> str:
    header = f"{'engine / ef_search':38} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'recall@10':>9} " \
             f"{'filt. recall':>12} {'filt. p95':>9}"
    lines = [header, "-" * len(header)]
    rows = [(f"pgvector {r['label']} (ef {r['ef_search']})", r) for r in results["pgvector"]]
    rows.append((f"chroma query (ef {results['chroma']['ef_search']})", results["chroma"]))
    for label, r in rows:
        lines.append(f"{label:38} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                     f"{r['recall_at_10']:>9.3f} {r.get('filtered_recall_at_10') or 0:>12.3f} "
                     f"{r.get('filtered_p95_ms') or 0:>9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python bench/search_monitor_bench.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--shape", choices=("gaussian", "embedding"), default="embedding",
                        help="vectors shaped like sentence embeddings (default), or pure noise (HNSW's worst case)")
    parser.add_argument("--remigrate", action="store_true", help="migrate again even if the table is there")
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark's server running")
    parser.add_argument("--results", type=Path, default=isolation.BENCH_DIR / "search_monitor_results.json")
    args = parser.parse_args(argv)
    _isolate()
    from synthetic_store import COLLECTION

    from vectorops.config import load_settings
    from vectorops.db import runtime

    started = time.perf_counter()
    store = _seed(args.rows, args.dimensions, args.shape)
    settings = load_settings()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    try:
        migration = _migrate(settings, store, COLLECTION, args.rows, args.remigrate)
        runs = [_monitor(settings, COLLECTION, None, "collection default")]
        runs.append(_monitor(settings, COLLECTION, PGVECTOR_DEFAULT_EF, "pgvector default"))
        runs.append(_monitor(settings, COLLECTION, runs[0]["advised_ef_search"], "advised"))
        chroma = _chroma(settings, store, COLLECTION, runs[0]["filter"])
    finally:
        if not args.keep_server:
            runtime.stop(settings)
    results = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
               "command": "python bench/search_monitor_bench.py " + " ".join(argv or sys.argv[1:]),
               "rows": args.rows, "dimensions": args.dimensions, "shape": args.shape, "probes": settings.monitor.probes,
               "cores": os.cpu_count(), "load_average_at_start": load_at_start,
               "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
               "elapsed_s": round(time.perf_counter() - started, 1), "migration": migration,
               "pgvector": runs, "chroma": chroma}
    args.results.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(_table(results))
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
