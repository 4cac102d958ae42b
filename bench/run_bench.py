"""vectorops benchmarks (issue 6): each against its baseline, measured in the same run on the same server.

``make bench QUICK=1`` (20,000 rows), ``make bench`` (200,000) or ``make bench ROWS=1000000`` run
``python bench/run_bench.py --rows N [--only a,b]``. It starts its own embedded PostgreSQL under
``bench/.cache/home`` on its own port, seeds (or reuses) synthetic Chroma stores, and measures, median of
``--runs`` (``$BENCH_RUNS``, default 3):

* ``pipeline``: ``vectorops migrate`` as a user runs it against the minimal hand pipeline (Chroma's ``get()``, one
  binary COPY, the HNSW build with the source's settings), alternating, each in a fresh process
  (``pipeline_bench.py``, issue 23), with the gate's and the index build's seconds;
* ``rss`` / ``migration``: whole migrations (``prepare`` → ``load`` → ``finalize``) in fresh processes, first,
  while this process is small (see ``rss_probe.py``): their peak RSS at 20,000, 200,000 and 1,000,000 rows (as
  far as N), and at N their end-to-end timing;
* ``extract``: the files reader against one unpaged ``collection.get()`` and the paged API (``extract_probe.py``);
* ``load``: the loader on records in memory against raw binary COPY, ``executemany`` and an INSERT loop
  (``load_bench.py``, ``baselines.py``);
* ``index``: vectorops' HNSW build against a hand-tuned one (``index_build_bench.py``);
* ``search``: p50/p95 and recall@10 at the advised ef_search against Chroma's query (``search_bench.py``);
* ``frontier``: p50/p95 against recall@10 for each index kind and each rung of its knob, beside Chroma's
  in-process client and a Chroma server (``frontier_bench.py``, issue 23; with ``QUICK=1`` 200 queries, each
  ladder stopped at recall 0.95 and the server measured at that rung only), in a child process;
* ``reembed``: re-embedding against plain ``SentenceTransformer.encode``, and int8 backends (``reembed_bench.py``);
* ``profile``: pyinstrument of ``prepare`` and one chunk's ``load``;
* ``sync``: ``vectorops sync`` at 0.1 %, 1 % and 10 % changed against a full re-migration, and the cutover
  window, at 100,000 rows (20,000 with ``QUICK=1``; ``sync_bench.py``); ``SYNC_1M=1`` adds its single pass at
  1,000,000 rows (seeded once, about half an hour, then a migration of about 20 minutes).

It stores the run under its size in ``bench/results.json``, rewrites ``BENCHMARKS.md`` and stops its server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import isolation

SMALL_ROWS = 20_000
RSS_SIZES = (20_000, 200_000, 1_000_000)
SEARCH_MAX_ROWS = 200_000
REEMBED_SENTENCES_QUICK = 300
REEMBED_SENTENCES = 2_000
DIMENSIONS = 384


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the migrated collection (default 200000)")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS") or 3),
                        help="timed runs per benchmark; the median is reported (default $BENCH_RUNS or 3)")
    parser.add_argument("--pipeline-runs", type=int, default=None,
                        help="pairs of the vectorops ÷ minimal pipeline benchmark (default --runs; QUICK: 3 while the "
                             "others run once, to stay under 5 minutes)")
    parser.add_argument("--rss-runs", type=int,
                        default=int(os.environ["BENCH_RSS_RUNS"]) if os.environ.get("BENCH_RSS_RUNS") else None,
                        help="fresh-process runs per size for peak RSS (default $BENCH_RSS_RUNS or --runs)")
    parser.add_argument("--insert-rows", type=int, default=SMALL_ROWS,
                        help="records for the row-by-row INSERT baseline, at most --rows (0 skips it)")
    parser.add_argument("--only", type=lambda v: [b.strip() for b in v.split(",") if b.strip()], default=None,
                        help=f"comma-separated subset of {','.join(BENCHMARKS)} (default: all; $BENCH_ONLY)")
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark's server running")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the Markdown report from the existing --results file; run nothing")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="NAME=JSON",
                        help="fold a standalone run's JSON (pipeline_bench.py, frontier_bench.py) into --results as "
                             "benchmark NAME of its size, then rewrite the report; runs nothing")
    parser.add_argument("--results", type=Path, default=isolation.BENCH_DIR / "results.json")
    parser.add_argument("--markdown", type=Path, default=isolation.PROJECT_DIR / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.only is None and os.environ.get("BENCH_ONLY"):
        args.only = [b.strip() for b in os.environ["BENCH_ONLY"].split(",") if b.strip()]
    unknown = sorted(set(args.only or ()) - set(BENCHMARKS))
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if (args.rows < 1 or args.runs < 1 or (args.rss_runs is not None and args.rss_runs < 1) or args.insert_rows < 0
            or (args.pipeline_runs is not None and args.pipeline_runs < 1)):
        parser.error("--rows, --runs, --pipeline-runs and --rss-runs must be at least 1, --insert-rows at least 0")
    return args


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _median_of(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Median of every numeric field over the runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {k: round(float(statistics.median(r[k] for r in runs)), 4) for k in keys}


def _seed(rows: int, shape: str = "gaussian") -> Path:
    """Seed (or reuse) the ``rows`` store in a child process, so its memory is given back."""
    from synthetic_store import is_seeded, store_path

    path = store_path(isolation.CACHE_DIR, rows, DIMENSIONS, shape)
    if is_seeded(path, rows, DIMENSIONS, shape):
        _say(f"reusing the seeded store {path.relative_to(isolation.PROJECT_DIR)}")
        return path
    _say(f"seeding {rows:,} × {DIMENSIONS} into {path.relative_to(isolation.PROJECT_DIR)}")
    subprocess.run([sys.executable, str(isolation.BENCH_DIR / "synthetic_store.py"), "--rows", str(rows),
                    "--path", str(path), "--shape", shape], check=True)
    return path


def _machine(settings: Any) -> dict[str, Any]:
    """CPU, memory and versions. Package versions come from their metadata, so nothing heavy is imported."""
    from importlib.metadata import version

    import psutil

    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connect(bootstrap(settings), autocommit=True) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()
        pgvector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return {
        "cores": os.cpu_count(), "cpu_model": cpu_model, "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(), "python": platform.python_version(),
        "postgres": postgres[0] if postgres else "unknown", "pgvector": pgvector[0] if pgvector else "unknown",
        "chromadb": version("chromadb"), "psycopg": version("psycopg"), "numpy": version("numpy"),
        "pgvector_python": version("pgvector"),
    }


def _rss_probe(path: Path, run_id: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(isolation.BENCH_DIR / "rss_probe.py"), "--path", str(path),
                           "--run-id", run_id], check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"rss_probe.py failed with exit code {proc.returncode}:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _peak_rss(settings: Any, stores: dict[int, Path], runs: int, stamp: str, *, migration_runs: int,
              rows: int) -> dict[str, Any]:
    """Full migrations in fresh processes, smallest store first: their peak RSS, and their timing.

    At ``rows`` it runs ``max(runs, migration_runs)`` migrations (they are also the end-to-end benchmark);
    at the smaller sizes ``runs``.
    """
    import workloads

    sizes = sorted(stores)
    found: dict[str, list[dict[str, Any]]] = {}
    parent_peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for size in sizes:
        found[str(size)] = []
        count = max(runs, migration_runs) if size == rows else runs
        for i in range(count):
            workloads.checkpoint(settings)
            probe = _rss_probe(stores[size], f"bench-rss-{size}-{i}-{stamp}")
            found[str(size)].append(probe)
            _say(f"migration of {size:,} rows in a fresh process, run {i + 1}/{count}: "
                 f"{probe['migration']['wall_s']:,.1f} s, peak RSS {probe['peak_rss_mb']:,.1f} MB "
                 f"(VmHWM {probe['vm_hwm_mb']:,.1f} MB)")
    medians = {size: round(statistics.median(r["peak_rss_mb"] for r in probes), 1) for size, probes in found.items()}
    small, big = str(sizes[0]), str(sizes[-1])
    return {"sizes": sizes, "runs": found, "median_mb": medians, "parent_peak_rss_mb_at_spawn": parent_peak,
            "ratio": round(medians[big] / medians[small], 3) if len(sizes) > 1 else None,
            "ratio_is": f"peak RSS at {big} rows ÷ peak RSS at {small} rows" if len(sizes) > 1 else None}


BENCHMARKS = ("pipeline", "extract", "load", "migration", "rss", "index", "search", "frontier", "reembed", "profile",
              "sync")
SYNC_ROWS = 100_000
SYNC_SCALE_ROWS = 1_000_000


def _extract_probe(path: Path, mode: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(isolation.BENCH_DIR / "extract_probe.py"), "--path", str(path),
                           "--mode", mode], check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"extract_probe.py --mode {mode} failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _extract(stores: dict[int, Path], runs: int) -> dict[str, Any]:
    """Every extraction mode in fresh processes, alternating, ``runs`` times per store size.

    A mode that fails (the unpaged get above SQLite's variable limit) is tried once, and its error kept.
    """
    found: dict[str, Any] = {}
    for size, path in sorted(stores.items()):
        per_mode: dict[str, list[dict[str, Any]]] = {"vectorops": [], "unpaged_get": [], "paged_api": []}
        for i in range(runs):
            modes = list(per_mode) if i % 2 == 0 else list(reversed(per_mode))
            for mode in modes:
                if per_mode[mode] and per_mode[mode][0]["error"]:
                    continue
                probe = _extract_probe(path, mode)
                per_mode[mode].append(probe)
                rate = f"{probe['rows_per_s']:,.0f} rows/s" if probe["rows_per_s"] else probe["error"][:90]
                _say(f"extract {size:,} {mode} run {i + 1}/{runs}: {rate}, peak {probe['peak_rss_mb']:,.0f} MB")
        medians = {mode: (_median_of(probes) if not probes[0]["error"] else None) for mode, probes in per_mode.items()}
        mine = medians["vectorops"]
        found[str(size)] = {
            "runs": per_mode, "median": medians,
            "errors": {mode: probes[0]["error"] for mode, probes in per_mode.items() if probes[0]["error"]},
            "ratio_vs_unpaged_get": (round(mine["rows_per_s"] / medians["unpaged_get"]["rows_per_s"], 3)
                                     if mine and medians["unpaged_get"] else None),
            "ratio_vs_paged_api": (round(mine["rows_per_s"] / medians["paged_api"]["rows_per_s"], 3)
                                   if mine and medians["paged_api"] else None)}
    return found


def _load(settings: Any, store: Path, collection: str, runs: int, insert_rows: int) -> dict[str, Any]:
    """vectorops' loader and raw COPY on every record, alternating; executemany and the INSERT loop on fewer."""
    import baselines
    import load_bench
    import workloads

    batches = load_bench.read_batches(str(store), collection)
    vectors = load_bench.stacked(batches)
    mine: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    for i in range(runs):
        order = ("vectorops", "raw") if i % 2 == 0 else ("raw", "vectorops")
        for name in order:
            workloads.checkpoint(settings)
            if name == "vectorops":
                mine.append(load_bench.vectorops_load(settings, batches, "cosine", i).as_dict())
                _say(f"load vectorops run {i + 1}/{runs}: {mine[-1]['rows_per_s']:,.0f} rows/s")
            else:
                raw.append(baselines.raw_copy(settings, vectors, i).as_dict())
                _say(f"load raw COPY run {i + 1}/{runs}: {raw[-1]['rows_per_s']:,.0f} rows/s")
    del vectors
    few = load_bench.merged(batches[:max(1, -(-insert_rows // load_bench.BATCH))])
    few = baselines.source.RecordBatch(ids=few.ids[:insert_rows], embeddings=few.embeddings[:insert_rows],
                                              documents=few.documents[:insert_rows],
                                              metadatas=few.metadatas[:insert_rows], uris=few.uris[:insert_rows])
    del batches
    loop: list[dict[str, Any]] = []
    many: list[dict[str, Any]] = []
    for i in range(runs):
        workloads.checkpoint(settings)
        loop.append(baselines.insert_loop(settings, few, i).as_dict())
        workloads.checkpoint(settings)
        many.append(load_bench.executemany(settings, few, i).as_dict())
        _say(f"load alternatives run {i + 1}/{runs} ({len(few.ids):,} rows): INSERT loop "
             f"{loop[-1]['rows_per_s']:,.0f} rows/s, executemany {many[-1]['rows_per_s']:,.0f} rows/s")
    medians = {"vectorops": _median_of(mine), "raw_copy": _median_of(raw), "insert_loop": _median_of(loop),
               "executemany": _median_of(many)}
    rate = medians["vectorops"]["rows_per_s"]
    return {"runs": {"vectorops": mine, "raw_copy": raw, "insert_loop": loop, "executemany": many},
            "median": medians, "alternative_rows": len(few.ids),
            "ratio_vs_raw_copy": round(rate / medians["raw_copy"]["rows_per_s"], 3),
            "ratio_durable_vs_raw_copy": round(
                medians["vectorops"]["durable_rows_per_s"] / medians["raw_copy"]["rows_per_s"], 3),
            "ratio_vs_insert_loop": round(rate / medians["insert_loop"]["rows_per_s"], 2),
            "ratio_vs_executemany": round(rate / medians["executemany"]["rows_per_s"], 2)}


def _sync(rows: int, runs: int) -> dict[str, Any]:
    """The sync bench at ``rows`` (``sync``), and its single pass at 1,000,000 rows when ``SYNC_1M`` is set."""
    import sync_bench

    found = {"sync": sync_bench.run(rows, runs)}
    median = found["sync"]["median"]
    _say(f"sync at {rows:,} rows: " + ", ".join(f"{label} {m['sync_seconds']:.1f} s ({m['changes_per_s']:,.0f} "
                                                 f"changes/s, {m['ratio_wall_over_migrate']:.3f}× a migration)"
                                                 for label, m in median["sync"].items())
         + f"; cutover window {median['cutover']['window_s']:.1f} s")
    if os.environ.get("SYNC_1M"):
        found["sync_1m"] = sync_bench.run(SYNC_SCALE_ROWS, 1, (0.001,))
        scale = found["sync_1m"]["median"]
        _say(f"sync at {SYNC_SCALE_ROWS:,} rows: migrate {scale['migrate_wall_s']:.0f} s, 0.1 % sync "
             f"{scale['sync']['0.1%']['sync_seconds']:.1f} s, cutover window {scale['cutover']['window_s']:.1f} s")
    return found


def _frontier(rows: int) -> dict[str, Any]:
    """``frontier_bench.py`` at ``rows`` in a child process (its Chroma client and memory end with it), on this
    run's server; QUICK (``SMALL_ROWS``): 200 queries, each ladder stopped at recall 0.95, the Chroma server at
    that rung only."""
    import frontier_bench

    quick = ["--queries", "200", "--stop-at", "0.95", "--server-at-target"] if rows <= SMALL_ROWS else []
    subprocess.run([sys.executable, str(isolation.BENCH_DIR / "frontier_bench.py"), "--rows", str(rows),
                    "--keep-server", *quick], check=True, stdout=sys.stderr)
    found: dict[str, Any] = json.loads(frontier_bench.result_path(rows).read_text())
    return found


def _profile(settings: Any, store: Path, collection: str, stamp: str, small: Path) -> dict[str, Any]:
    """pyinstrument of prepare and one chunk load at N (this thread's wall time), and py-spy of a whole
    migration of the ``small`` store in a fresh process (CPU time of every thread), when installed."""
    import pyspy_profile
    import workloads

    found: dict[str, Any] = {}
    try:
        import pyinstrument  # noqa: F401
        found = {"tool": "pyinstrument", **workloads.pyinstrument_chunk_load(settings, store, collection,
                                                                           f"bench-profile-{stamp}")}
    except ImportError:
        _say("pyinstrument is not installed (make bench installs it): profiling with cProfile instead")
        found = {"tool": "cProfile", **workloads.profile_chunk_load(settings, store, collection,
                                                                    f"bench-profile-{stamp}")}
    workloads.reset_schema(settings)
    if pyspy_profile.available():
        _say("py-spy of a whole migration in a fresh process")
        found["pyspy"] = pyspy_profile.profile_migration(small, f"bench-pyspy-{stamp}")
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected benchmarks; return the results document for ``args.rows``.

    Fresh-process measurements (peak RSS, extraction) run first, while this process is still small.
    """
    import report

    from vectorops.chroma import locate, source
    from vectorops.config import load_settings
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap
    from vectorops.naming import table_name_for

    started = time.perf_counter()
    load_average = [round(x, 2) for x in os.getloadavg()]
    code = _code_version()
    rows, runs = args.rows, args.runs
    chosen = set(args.only or BENCHMARKS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    big = _seed(rows)
    stores = {size: _seed(size) for size in RSS_SIZES if size < rows} | {rows: big}
    collection = "bench_vectors"

    settings = load_settings()
    _say(f"embedded PostgreSQL: {settings.pgdata} on 127.0.0.1:{settings.db_port}")
    benchmarks: dict[str, Any] = {}
    seconds: dict[str, float] = {}  # wall seconds of each benchmark (QUICK's 5-minute budget, by part)
    lap = [time.perf_counter()]

    def timed(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = round(now - lap[0], 1)
        lap[0] = now

    try:
        import workloads

        bootstrap(settings)
        machine = _machine(settings) | {"load_average_at_start": load_average}
        workloads.reset_schema(settings)
        timed("setup")
        if "pipeline" in chosen:
            import pipeline_bench

            benchmarks["pipeline"] = pipeline_bench.run(rows, args.pipeline_runs or runs)
            found = benchmarks["pipeline"]
            _say(f"vectorops migrate ÷ minimal pipeline at {rows:,} rows: {found['ratio']}× "
                 f"(gate ÷ index build {found['gate_over_index']})")
            timed("pipeline")
        if "migration" in chosen or "rss" in chosen:
            # whole migrations pass the validation gate, whose top-10 overlap with Chroma's own query means nothing
            # on Gaussian noise (Chroma's HNSW finds 0.895 of the exact top 10 at 20,000 rows): embedding-shaped
            rss_stores = {size: _seed(size, "embedding") for size in (stores if "rss" in chosen else {rows: big})}
            benchmarks["peak_rss"] = _peak_rss(settings, rss_stores, args.rss_runs or runs, stamp,
                                               migration_runs=runs if "migration" in chosen else 0, rows=rows)
            if "migration" in chosen:
                migration_runs = [probe["migration"] for probe in benchmarks["peak_rss"]["runs"][str(rows)]]
                benchmarks["migration"] = {"runs": migration_runs, "median": _median_of(migration_runs)}
                median = benchmarks["migration"]["median"]
                _say(f"migration median: {median['e2e_rows_per_s']:,.0f} rows/s end to end, {median['wall_s']:.1f} s")
            timed("migration+rss")
        if "extract" in chosen:
            benchmarks["extract"] = _extract(({SMALL_ROWS: stores[SMALL_ROWS]} if SMALL_ROWS in stores else {})
                                             | {rows: big}, runs)
            timed("extract")
        if "sync" in chosen:
            benchmarks.update(_sync(SMALL_ROWS if rows <= SMALL_ROWS else SYNC_ROWS, runs))
            timed("sync")
        workloads.reset_schema(settings)
        run_settings = {"chunk_rows": settings.chunk_rows, "fetch_batch": settings.fetch_batch,
                        "chroma_max_batch": source.max_batch(source.SourceSpec(path=str(big)), 10**9),
                        "chroma_reader": locate.reader_setting()}
        if "load" in chosen:
            benchmarks["load"] = _load(settings, big, collection, runs, min(rows, args.insert_rows))
            timed("load")
        if "index" in chosen:
            import index_build_bench

            workloads.reset_schema(settings)
            _say("migrating once for the index build benchmark")
            workloads.run_migration(settings, _seed(rows, "embedding"), collection, f"bench-index-{stamp}")
            benchmarks["index"] = index_build_bench.run(settings, workloads.SCHEMA, table_name_for(collection),
                                                        "cosine", runs)
            _say(f"index build ratio (vectorops ÷ hand-tuned): {benchmarks['index']['ratio']}")
            workloads.reset_schema(settings)
            timed("index")
        if "search" in chosen:
            import search_bench

            benchmarks["search"] = search_bench.run(settings, min(rows, SEARCH_MAX_ROWS), runs)
            _say(f"search: {benchmarks['search']['comparison']}")
            timed("search")
        if "frontier" in chosen:
            benchmarks["frontier"] = _frontier(rows)
            _say(f"frontier: {benchmarks['frontier']['verdict']['line']}")
            timed("frontier")
        if "reembed" in chosen:
            import reembed_bench

            quick = rows <= SMALL_ROWS  # QUICK: fp32 only (the int8 exports and their recall passes take minutes)
            benchmarks["reembed"] = reembed_bench.run(
                sentences=REEMBED_SENTENCES_QUICK if quick else REEMBED_SENTENCES, runs=runs,
                backends=() if quick else reembed_bench.int8_backends.BACKENDS)
            timed("reembed")
        profile = None
        if "profile" in chosen:
            _say("profiling prepare and one chunk load")
            profile = _profile(settings, big, collection, stamp, stores[SMALL_ROWS])
            timed("profile")
        workloads.reset_schema(settings)
    finally:
        if not args.keep_server:
            runtime.stop(settings)
            _say("embedded PostgreSQL stopped")

    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/run_bench.py " + " ".join(sys.argv[1:]),
        "elapsed_s": round(time.perf_counter() - started, 1), "seconds_by_benchmark": seconds,
        "rows": rows, "dimensions": DIMENSIONS, "runs": runs, "rss_runs": args.rss_runs or runs,
        "benchmarks_run": [b for b in BENCHMARKS if b in chosen],
        "machine": machine, "code": code, "settings": run_settings, "benchmarks": benchmarks, "profile": profile,
        "notes": report.notes(machine, benchmarks, rows, SMALL_ROWS),
    }


def _code_version() -> dict[str, Any]:
    """The checked-out commit and the uncommitted files under plugins/ and include/ (read-only git calls)."""
    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=isolation.PROJECT_DIR, capture_output=True, text=True,
                                  check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "plugins", "include")
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or "unknown",
            "uncommitted": [line[3:] for line in changed.splitlines() if line.strip()]}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``make bench``."""
    args = _args(argv)
    import report

    if args.imports:
        for item in args.imports:
            name, _, path = item.partition("=")
            if name not in BENCHMARKS or not path:
                raise SystemExit(f"--import {item!r}: expected NAME=JSON with NAME among {', '.join(BENCHMARKS)}")
            report.import_benchmark(args.results, name, Path(path))
            print(f"imported {path} as {name}")
    if args.report_only or args.imports:
        report.write(None, args.results, args.markdown)
        print(f"wrote {args.markdown} from {args.results}")
        return 0
    isolation.isolate()
    results = run(args)
    report.write(results, args.results, args.markdown)
    print(report.summary(results))
    print(f"wrote {args.results} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
