"""The search frontier: p50/p95 against recall@10 for each index kind and each rung of its knob, beside Chroma.

Issue 23. On the benchmark's own embedded server (:mod:`isolation`) and the cached embedding-shaped store of
``rows`` × 384 (:mod:`synthetic_store`, seeded when missing, never written):

* the store is migrated once with ``vectorops migrate`` into the schema ``bench_frontier_<rows>`` and reused while
  the registry holds it in full (as ``concurrency_bench`` does);
* the query set: ``queries`` held-out vectors, drawn from the store's own generator
  (:class:`synthetic_store.EmbeddingLikeVectors`, another seed: the same distribution, no stored record), and
  their exact top-10 over the table (numpy, streamed from PostgreSQL in batches), computed once;
* for each kind of :data:`vectorops.load.index_kinds.KINDS`, one at a time, the table's vector indexes are dropped
  and the kind's index is built with :func:`vectorops.load.indexing.build_index` (m 16, ef_construction 100, as
  Chroma built its own); its build seconds and ``pg_relation_size`` are recorded. Then, on one client
  (:class:`vectorops.compare.engines.IndexSearcher`: one connection, the kind's statement, execute + fetch), one
  untimed pass over the queries, and at every rung of the kind's knob ladder ``--passes`` timed passes (default
  one): recall@10 and client-side p50/p95/p99, and whether the planner used the index (``scan``);
* Chroma's in-process client (``PersistentClient`` on a private copy of the store), at every ``ef_search`` of the
  same ladder as HNSW (the configuration changed and the client reopened per rung), then a ``chroma run`` server
  on that copy (restarted per rung), both through chromadb's own ``query`` (``raw``), on the same queries;
* for each kind at its first rung reaching recall@10 ≥ 0.95, where the time goes: the server-side execution
  time (``EXPLAIN ANALYZE``) and the round trip of an empty statement.

The table is migrated with ``--index ivfflat`` (the quickest build) and IVFFlat is built last, so after a run of
every kind the table has the index its registry row records. Writes ``bench/.cache/frontier_bench-<rows>.json``;
with ``--resume`` the engines already in that file (same rows and queries) are not measured again.

``python bench/frontier_bench.py [--rows 20000] [--queries 300] [--kinds hnsw,ivfflat] [--stop-at 0.95]
[--server-at-target] [--passes 1] [--resume]``
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
import numpy as np
import workloads

SCHEMA_PREFIX = "bench_frontier_"
DIMENSIONS = 384
SHAPE = "embedding"
QUERIES = 300
QUERY_SEED = 1_000
TARGET = 0.95
M, EF_CONSTRUCTION = 16, 100
BREAKDOWN_QUERIES = 50
BUILD_ORDER = ("hnsw", "hnsw_halfvec", "hnsw_bit_rerank", "ivfflat")  # ivfflat last: the table ends as migrated
CHROMA_CLIENT, CHROMA_SERVER = "chroma in-process", "chroma server"
SERVICE = "vectorops-bench-frontier"


def _say(message: str) -> None:
    print(f"[frontier-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _table(dsn: str, schema: str, collection: str) -> tuple[str, str]:
    """The migrated table's name and Chroma space, from the registry."""
    from vectorops.db.connect import connect

    with connect(dsn, autocommit=True) as conn:
        row = conn.execute("""SELECT table_name, distance FROM vectorops.collection_registry
                              WHERE table_schema = %s AND collection = %s""", (schema, collection)).fetchone()
    if row is None:
        raise RuntimeError(f"{collection} is not registered in {schema}")
    return str(row[0]), str(row[1])


def _dataset(dsn: str, schema: str, table: str, space: str, queries: int) -> Any:
    """Held-out queries (the store's generator, seed :data:`QUERY_SEED`) and their exact top-10 over the table."""
    from pgvector.psycopg import register_vector
    from psycopg import sql
    from synthetic_store import EmbeddingLikeVectors

    from vectorops.compare.dataset import Dataset
    from vectorops.db.connect import connect
    from vectorops.quality.exact_search import ExactTopK

    vectors = EmbeddingLikeVectors(DIMENSIONS)(np.random.default_rng(QUERY_SEED), queries)
    top = ExactTopK(vectors, space, 10)
    rows = 0
    with connect(dsn) as conn:
        register_vector(conn)
        with conn.cursor(name="frontier_truth", binary=True) as cur:
            cur.itersize = 20_000
            cur.execute(sql.SQL("SELECT id, embedding FROM {}").format(sql.Identifier(schema, table)))
            while batch := cur.fetchmany(20_000):
                top.add([r[0] for r in batch], np.stack([np.asarray(r[1].to_numpy(), dtype=np.float32) for r in batch]))
                rows += len(batch)
    return Dataset(f"{schema}.{table}: {rows} x {DIMENSIONS} ({space})", space, [], np.empty((0, DIMENSIONS)),
                   [], [], np.ascontiguousarray(vectors), [None] * queries, top.result())


def _drop_vector_indexes(conn: Any, schema: str, table: str) -> None:
    """Drop every index of the table but its primary key."""
    from psycopg import sql

    names = conn.execute("""SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                            WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))
                              AND NOT i.indisprimary""", (schema, table)).fetchall()
    for (name,) in names:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))


def _build(dsn: str, schema: str, table: str, space: str, rows: int, kind: str) -> dict[str, Any]:
    """The kind's index, alone on the table: its build seconds and size."""
    from vectorops.config import load_settings
    from vectorops.db.connect import connect
    from vectorops.load import index_kinds
    from vectorops.load.indexing import IndexSpec, build_index

    with connect(dsn, autocommit=True) as conn:
        _drop_vector_indexes(conn, schema, table)
        conn.execute("CHECKPOINT")
        build = build_index(conn, IndexSpec(schema, table, table + index_kinds.index_suffix(kind), space, DIMENSIONS,
                                            rows, M, EF_CONSTRUCTION, load_settings().max_maintenance_work_mem_mb,
                                            kind))
        size = conn.execute("SELECT pg_relation_size(to_regclass(format('%%I.%%I', %s::text, %s::text)))",
                            (schema, build.index_name)).fetchone()
    return {"method": build.method, "seconds": round(build.seconds, 2), "lists": build.lists,
            "index_mb": round((size[0] if size else 0) / 2**20, 1), "maintenance_work_mem_mb":
            build.maintenance_work_mem_mb}


def _frontier(engine: Any, data: Any, ladder: tuple[int, ...], stop_at: float | None,
              passes: int = 1) -> list[dict[str, Any]]:
    """One untimed pass, then ``passes`` timed passes per rung on one client (stopping after ``stop_at`` recall)."""
    from vectorops.compare.concurrency import run_load

    engine.set_effort(ladder[0])
    run_load(engine, data, 1, 3600.0, 1, ladder[0])  # the index into memory
    rungs = []
    for value in ladder:
        engine.set_effort(value)
        load = run_load(engine, data, 1, 3600.0, passes, value)
        rungs.append({"value": value, **{k: getattr(load, k) for k in ("recall_at_10", "p50_ms", "p95_ms", "p99_ms",
                                                                         "queries", "errors")}})
        if getattr(engine, "kind", None) is not None:
            rungs[-1]["scan"] = _scan(engine, data)
        _say(f"  {engine.name} {engine.setting}={value}: recall@10 {load.recall_at_10:.4f}, p50 {load.p50_ms:.2f} "
             f"ms, p95 {load.p95_ms:.2f} ms")
        if load.errors:
            raise RuntimeError(f"{engine.name} at {value}: {load.errors} errors, e.g. {load.error_samples}")
        if stop_at is not None and load.recall_at_10 >= stop_at:
            break
    return rungs


def _scan(engine: Any, data: Any) -> str:
    """The index the plan of the first query scans, or ``Seq Scan`` when the planner prefers the table."""
    from psycopg import sql

    searcher = engine.open()
    try:
        plan = searcher.conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(searcher.statement),
                                     {"query": data.queries[0], "k": 10, "depth": searcher.depth},
                                     binary=True).fetchone()[0][0]["Plan"]
    finally:
        searcher.close()
    nodes = [plan]
    while nodes:
        node = nodes.pop(0)
        if node.get("Index Name"):
            return str(node["Index Name"])
        if node["Node Type"] == "Seq Scan":
            return "Seq Scan"
        nodes += node.get("Plans", [])
    return "?"


def _breakdown(dsn: str, schema: str, table: str, space: str, kind: str, effort: int, data: Any) -> dict[str, Any]:
    """Where a query's time goes at ``effort``: server-side execution (EXPLAIN ANALYZE) and an empty round trip."""
    from psycopg import sql

    from vectorops.compare.engines import IndexSearcher
    from vectorops.load.index_kinds import IndexedColumn

    searcher = IndexSearcher(dsn, sql.Identifier(schema, table), IndexedColumn(kind, space, DIMENSIONS), effort)
    try:
        explain = sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}").format(searcher.statement)
        executions, buffers, trips = [], [], []
        for vector in data.queries[:BREAKDOWN_QUERIES]:
            row = searcher.conn.execute(explain, {"query": vector, "k": 10, "depth": searcher.depth},
                                        binary=True).fetchone()
            assert row is not None
            plan = row[0][0]
            executions.append(plan["Execution Time"])
            buffers.append(plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0))
            started = time.perf_counter()
            searcher.conn.execute("SELECT 1").fetchall()
            trips.append((time.perf_counter() - started) * 1000)
    finally:
        searcher.close()
    return {"value": effort, "execution_p50_ms": round(statistics.median(executions), 3),
            "execution_p95_ms": round(float(np.percentile(executions, 95)), 3),
            "buffers_p50": statistics.median(buffers), "round_trip_p50_ms": round(statistics.median(trips), 3)}


def _chroma_index_mb(path: Path) -> float:
    """The size of the HNSW segment files (everything but the SQLite database)."""
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.parent != path) / 2**20, 1)


def first_reaching(rungs: list[dict[str, Any]], target: float = TARGET) -> dict[str, Any] | None:
    """The first rung whose recall@10 reaches ``target``."""
    return next((r for r in rungs if r["recall_at_10"] >= target), None)


def _fastest_reaching(rungs: list[dict[str, Any]], target: float = TARGET) -> dict[str, Any] | None:
    return min((r for r in rungs if r["recall_at_10"] >= target), key=lambda r: r["p95_ms"], default=None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def verdict(engines: dict[str, Any]) -> dict[str, Any]:
    """The issue's answer: the pgvector option with the lowest p95 at recall@10 ≥ 0.95, against both Chromas."""
    best = {name: _fastest_reaching(e["rungs"]) for name, e in engines.items()}
    client, server = best.get(CHROMA_CLIENT), best.get(CHROMA_SERVER)
    options = {name: r for name, r in best.items() if name not in (CHROMA_CLIENT, CHROMA_SERVER) and r}
    if not options:
        recalls = {name: max(r["recall_at_10"] for r in e["rungs"]) for name, e in engines.items()
                   if name not in (CHROMA_CLIENT, CHROMA_SERVER)}
        return {"fastest": None, "meets_goal": False,
                "line": "no pgvector option reaches recall@10 ≥ 0.95: best recall per kind "
                        + ", ".join(f"{k} {v:.4f}" for k, v in recalls.items())}
    name, rung = min(options.items(), key=lambda item: item[1]["p95_ms"])
    vs_client = _ratio(rung["p95_ms"], client["p95_ms"] if client else None)
    vs_server = _ratio(rung["p95_ms"], server["p95_ms"] if server else None)
    knob = engines[name]["knob"]
    line = (f"at recall ≥ 0.95 the fastest option is {name} ({knob}={rung['value']}, recall@10 "
            f"{rung['recall_at_10']:.4f}) with p95 {rung['p95_ms']:.2f} ms: {vs_client}× Chroma client / "
            f"{vs_server}× Chroma server")
    meets = vs_client is not None and vs_client <= 1.0
    why = engines[name].get("breakdown") or {}
    if not meets and client is not None and why.get("value") == rung["value"]:
        line += (f". Not at or below the client's, measured: the search inside PostgreSQL alone (EXPLAIN ANALYZE, "
                 f"p50 {why['execution_p50_ms']} ms, {why['buffers_p50']:g} buffers) is "
                 f"{_ratio(why['execution_p50_ms'], client['p50_ms'])}× Chroma in-process's whole query (p50 "
                 f"{client['p50_ms']:.2f} ms at ef_search {client['value']}, recall@10 {client['recall_at_10']:.4f});"
                 f" the round trip adds {why['round_trip_p50_ms']} ms")
    return {"fastest": name, "value": rung["value"], "p95_ms": rung["p95_ms"], "p95_vs_chroma_client": vs_client,
            "p95_vs_chroma_server": vs_server, "meets_goal": meets, "line": line}


def markdown(figures: dict[str, Any]) -> str:
    """The frontier table, and the answer line."""
    engines = figures["engines"]
    client = first_reaching(engines.get(CHROMA_CLIENT, {}).get("rungs", []))
    reference = client["p95_ms"] if client else None
    lines = [f"p95 ÷ Chroma client: ÷ the in-process client's p95 at its first rung reaching recall@10 ≥ {TARGET}"
             + (f" (ef_search {client['value']}, {reference:.2f} ms)" if client and reference else " (none does)"),
             "", "| option | knob=value | recall@10 | p50 ms | p95 ms | p95 ÷ Chroma client | build s | index MB |",
             "|---|---|---|---|---|---|---|---|"]
    seq = " (seq scan†)"
    for name, engine in engines.items():
        for n, r in enumerate(engine["rungs"]):
            first = n == 0
            build = engine.get("build") or {}
            lines.append(
                f"| {name if first else ''} | {engine['knob']}={r['value']}{seq if r.get('scan') == 'Seq Scan' else ''}"
                f" | {r['recall_at_10']:.4f} | "
                f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {_ratio(r['p95_ms'], reference) or '—'} | "
                f"{build.get('seconds', '—') if first else ''} | {build.get('index_mb', '—') if first else ''} |")
    if any(r.get("scan") == "Seq Scan" for e in engines.values() for r in e["rungs"]):
        lines += ["", "† the planner read the table instead of the index at that setting (its cost estimate of the "
                      "index scan grows with the knob): exact, and as slow as a full scan"]
    lines += ["", f"**{figures['verdict']['line']}**"]
    return "\n".join(lines)


def _engines_of(previous: dict[str, Any] | None, rows: int, queries: int) -> dict[str, Any]:
    if previous and previous.get("rows") == rows and previous.get("queries") == queries \
            and previous.get("query_seed") == QUERY_SEED:
        return dict(previous.get("engines") or {})
    return {}


def run(rows: int, queries: int, kinds: tuple[str, ...], chroma: bool, stop_at: float | None,
        previous: dict[str, Any] | None = None, server_at_target: bool = False, passes: int = 1) -> dict[str, Any]:
    """Measure (the engines of ``previous`` measured on the same rows and queries are kept, not measured again).

    :param stop_at: end each ladder after the first rung reaching this recall@10 (``None``: every rung).
    :param passes: timed passes over the queries per rung (p95 over all of them).
    :param server_at_target: measure the Chroma server only at the in-process client's first rung reaching
        :data:`TARGET` (both load the same index files, so their recall is the same at every rung), saving a
        server restart per rung.
    """
    from search_monitor_bench import _seed
    from synthetic_store import COLLECTION

    from vectorops.chroma.server_process import ChromaServerProcess
    from vectorops.compare.engines import ChromaLocalEngine, ChromaServerEngine, PostgresEngine, knob_ladder
    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.load.index_kinds import KINDS, KNOBS
    from vectorops.monitor.ef_advice import EF_LADDER

    started, load_at_start = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
    store = _seed(rows, DIMENSIONS, SHAPE)
    dsn = bootstrap(load_settings())
    schema = f"{SCHEMA_PREFIX}{rows}"
    migration = workloads.migrate_once(dsn, store, COLLECTION, rows, schema, "--index", "ivfflat", say=_say)
    table, space = _table(dsn, schema, COLLECTION)
    _say(f"exact top-10 of {queries} held-out queries over {schema}.{table}")
    data = _dataset(dsn, schema, table, space, queries)
    engines = _engines_of(previous, rows, queries)
    for kind in (k for k in BUILD_ORDER if k in kinds and k not in engines):
        _say(f"building {kind}")
        build = _build(dsn, schema, table, space, rows, kind)
        _say(f"  {build['seconds']} s, {build['index_mb']} MB")
        engine = PostgresEngine(dsn, schema, COLLECTION, SERVICE, name=kind, kind=kind)
        rungs = _frontier(engine, data, knob_ladder(kind, build["lists"]), stop_at, passes)
        found = first_reaching(rungs) or max(rungs, key=lambda r: r["recall_at_10"])
        engines[kind] = {"knob": KNOBS[kind], "build": build, "rungs": rungs,
                         "breakdown": _breakdown(dsn, schema, table, space, kind, found["value"], data)}
    if chroma and not {CHROMA_CLIENT, CHROMA_SERVER} <= set(engines):
        copy = workloads.private_store_copy(store, isolation.CACHE_DIR / f"frontier-{rows}" / "chroma", _say)
        index_mb = _chroma_index_mb(copy)
        _say(f"{CHROMA_CLIENT} on {copy}")
        local = ChromaLocalEngine(copy, COLLECTION, reload=True, raw=True)
        engines[CHROMA_CLIENT] = {"knob": "ef_search", "build": {"index_mb": index_mb},
                                  "rungs": _frontier(local, data, EF_LADDER, stop_at, passes)}
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # the directory released: this process's Chroma system stops
        reached = first_reaching(engines[CHROMA_CLIENT]["rungs"])
        ladder = (reached["value"],) if server_at_target and reached else EF_LADDER
        with ChromaServerProcess(copy, start_timeout_s=600) as server:
            _say(f"{CHROMA_SERVER} on port {server.port}")
            remote = ChromaServerEngine(server, COLLECTION, raw=True)
            engines[CHROMA_SERVER] = {"knob": "ef_search", "build": {"index_mb": index_mb},
                                      "rungs": _frontier(remote, data, ladder, stop_at, passes)}
    ordered = {name: engines[name] for name in (*KINDS, CHROMA_CLIENT, CHROMA_SERVER) if name in engines}
    figures: dict[str, Any] = {
        "rows": rows, "dimensions": DIMENSIONS, "shape": SHAPE, "queries": queries, "query_seed": QUERY_SEED,
        "schema": schema, "table": table, "target_recall": TARGET, "stop_at": stop_at,
        "server_at_target": server_at_target, "passes": passes, "cores": os.cpu_count(),
        "load_average_at_start": load_at_start, "migration": migration, "engines": ordered,
        "verdict": verdict(ordered), "elapsed_s": round(time.perf_counter() - started, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    return figures


def result_path(rows: int) -> Path:
    """``bench/.cache/frontier_bench-<rows>.json``."""
    return isolation.CACHE_DIR / f"frontier_bench-{rows}.json"


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python bench/frontier_bench.py``."""
    from vectorops.load.index_kinds import KINDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--kinds", type=lambda v: tuple(k.strip() for k in v.split(",") if k.strip()),
                        default=KINDS, help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--no-chroma", action="store_true", help="measure pgvector only")
    parser.add_argument("--stop-at", type=float, default=None,
                        help="stop a ladder after the first rung reaching this recall@10 (default: every rung)")
    parser.add_argument("--passes", type=int, default=1, help="timed passes over the queries per rung (default 1)")
    parser.add_argument("--server-at-target", action="store_true",
                        help="the Chroma server only at the in-process client's first rung reaching recall 0.95")
    parser.add_argument("--resume", action="store_true",
                        help="keep the engines of the existing JSON measured on the same rows and queries")
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark's PostgreSQL running")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.queries < 1 or args.passes < 1 or set(args.kinds) - set(KINDS):
        parser.error(f"--rows, --queries and --passes must be positive, --kinds among {','.join(KINDS)}")
    isolation.isolate()
    from vectorops.config import load_settings
    from vectorops.db import runtime

    out = result_path(args.rows)
    previous = json.loads(out.read_text()) if args.resume and out.is_file() else None
    settings = load_settings()
    was_running = runtime.running_port(settings.pgdata) is not None
    try:
        figures = run(args.rows, args.queries, args.kinds, not args.no_chroma, args.stop_at, previous,
                      args.server_at_target, args.passes)
    finally:
        if not was_running and not args.keep_server:
            runtime.stop(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    print(markdown(figures))
    print(f"\nfigures: {out} ({figures['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
