"""vectorops benchmarks: migration throughput against raw COPY and INSERT baselines, and peak RSS.

``make bench QUICK=1`` (20,000 rows), ``make bench`` (200,000) or ``make bench ROWS=1000000`` run
``python bench/run_bench.py --rows N``. It starts its own embedded PostgreSQL under ``bench/.cache/home``
on its own port, seeds (or reuses) a synthetic Chroma store of N × 384 float32 vectors, and measures:

* ``migration``: ``prepare`` → ``load`` per chunk → ``finalize``, in-process, median of ``--runs``;
* ``raw_copy``: pgvector-python's documented binary COPY of the same vectors into an UNLOGGED table;
* ``insert_loop``: one INSERT per record, one commit, on min(N, ``--insert-rows``) records;
* ``peak_rss``: ``ru_maxrss`` of a full migration in a fresh process, at 20,000 rows and at N (run first,
  while this process is small: see ``rss_probe.py``);
* ``profile``: cProfile of ``prepare`` and of one chunk's ``load``.

It writes ``bench/results.json`` and ``BENCHMARKS.md`` and stops its server at the end.
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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import isolation

SMALL_ROWS = 20_000
DIMENSIONS = 384


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the migrated collection (default 200000)")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS") or 3),
                        help="timed runs per benchmark; the median is reported (default $BENCH_RUNS or 3)")
    parser.add_argument("--rss-runs", type=int,
                        default=int(os.environ["BENCH_RSS_RUNS"]) if os.environ.get("BENCH_RSS_RUNS") else None,
                        help="fresh-process runs per size for peak RSS (default $BENCH_RSS_RUNS or --runs)")
    parser.add_argument("--insert-rows", type=int, default=SMALL_ROWS,
                        help="records for the row-by-row INSERT baseline, at most --rows (0 skips it)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of prepare and one chunk load")
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark's server running")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the Markdown report from the existing --results file; run nothing")
    parser.add_argument("--results", type=Path, default=isolation.BENCH_DIR / "results.json")
    parser.add_argument("--markdown", type=Path, default=isolation.PROJECT_DIR / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1 or (args.rss_runs is not None and args.rss_runs < 1) or args.insert_rows < 0:
        parser.error("--rows, --runs and --rss-runs must be at least 1, --insert-rows at least 0")
    return args


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _median_of(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Median of every numeric field over the runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {k: round(float(statistics.median(r[k] for r in runs)), 4) for k in keys}


def _seed(rows: int) -> Path:
    """Seed (or reuse) the ``rows`` store in a child process, so its memory is given back."""
    from synthetic_store import is_seeded, store_path

    path = store_path(isolation.CACHE_DIR, rows, DIMENSIONS)
    if is_seeded(path, rows, DIMENSIONS):
        _say(f"reusing the seeded store {path.relative_to(isolation.PROJECT_DIR)}")
        return path
    _say(f"seeding {rows:,} × {DIMENSIONS} into {path.relative_to(isolation.PROJECT_DIR)}")
    subprocess.run([sys.executable, str(isolation.BENCH_DIR / "synthetic_store.py"), "--rows", str(rows),
                    "--path", str(path)], check=True)
    return path


def _machine(settings: Any) -> dict[str, Any]:
    """CPU, memory and versions. Package versions come from their metadata, so nothing heavy is imported."""
    from importlib.metadata import version

    import psutil

    from vectorops import db

    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with db.connect(db.bootstrap(settings), autocommit=True) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()
        pgvector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return {
        "cores": os.cpu_count(), "cpu_model": cpu_model, "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(), "python": platform.python_version(),
        "postgres": postgres[0] if postgres else "unknown", "pgvector": pgvector[0] if pgvector else "unknown",
        "chromadb": version("chromadb"), "psycopg": version("psycopg"), "numpy": version("numpy"),
        "pgvector_python": version("pgvector"),
    }


def _timed_runs(label: str, runs: int, once: Callable[[int], dict[str, Any]], rate_key: str) -> list[dict[str, Any]]:
    results = []
    for i in range(runs):
        result = once(i)
        results.append(result)
        _say(f"{label} run {i + 1}/{runs}: {result[rate_key]:,.0f} rows/s")
    return results


def _rss_probe(path: Path, run_id: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(isolation.BENCH_DIR / "rss_probe.py"), "--path", str(path),
                           "--run-id", run_id], check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"rss_probe.py failed with exit code {proc.returncode}:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _raw_copy_runs(settings: Any, store: Path, collection: str, runs: int) -> list[dict[str, Any]]:
    """Read the vectors once (not timed), then time ``runs`` raw COPYs of them; the array is freed on return."""
    import baselines
    import workloads

    vectors = baselines.read_vectors(store, collection)

    def once(i: int) -> dict[str, Any]:
        workloads.checkpoint(settings)
        return baselines.raw_copy(settings, vectors, i).as_dict()

    return _timed_runs("raw COPY", runs, once, "rows_per_s")


def _insert_loop_runs(settings: Any, store: Path, collection: str, rows: int, runs: int) -> list[dict[str, Any]]:
    """Read ``rows`` records once (not timed), then time ``runs`` INSERT loops over them."""
    import baselines
    import workloads

    records = baselines.read_records(store, collection, rows)

    def once(i: int) -> dict[str, Any]:
        workloads.checkpoint(settings)
        return baselines.insert_loop(settings, records, i).as_dict()

    return _timed_runs("INSERT loop", runs, once, "rows_per_s")


def _peak_rss(settings: Any, stores: dict[int, Path], runs: int, stamp: str) -> dict[str, Any]:
    """Peak RSS of full migrations in fresh processes, ``runs`` per store size, smallest first."""
    import workloads

    sizes = sorted(stores)
    found: dict[str, list[dict[str, Any]]] = {}
    parent_peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for size in sizes:
        found[str(size)] = []
        for i in range(runs):
            workloads.checkpoint(settings)
            probe = _rss_probe(stores[size], f"bench-rss-{size}-{i}-{stamp}")
            found[str(size)].append(probe)
            _say(f"peak RSS at {size:,} rows, run {i + 1}/{runs}: {probe['peak_rss_mb']:,.1f} MB "
                 f"(VmHWM {probe['vm_hwm_mb']:,.1f} MB)")
    medians = {size: round(statistics.median(r["peak_rss_mb"] for r in probes), 1) for size, probes in found.items()}
    small, big = str(sizes[0]), str(sizes[-1])
    return {"sizes": sizes, "runs": found, "median_mb": medians, "parent_peak_rss_mb_at_spawn": parent_peak,
            "ratio": round(medians[big] / medians[small], 3) if len(sizes) > 1 else None,
            "ratio_is": f"peak RSS at {big} rows ÷ peak RSS at {small} rows" if len(sizes) > 1 else None}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every benchmark; return the results document.

    The peak-RSS probes run first, while this process is still small (see ``rss_probe.py``).
    """
    import report

    from vectorops import chroma_source, db, runtime
    from vectorops.config import load_settings

    started = time.perf_counter()
    load_average = [round(x, 2) for x in os.getloadavg()]
    code = _code_version()
    rows, runs = args.rows, args.runs
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    big = _seed(rows)
    stores = {rows: big} | ({SMALL_ROWS: _seed(SMALL_ROWS)} if rows > SMALL_ROWS else {})
    collection = "bench_vectors"

    settings = load_settings()
    _say(f"embedded PostgreSQL: {settings.pgdata} on 127.0.0.1:{settings.db_port}")
    try:
        import workloads

        db.bootstrap(settings)
        machine = _machine(settings) | {"load_average_at_start": load_average}
        workloads.reset_schema(settings)
        benchmarks: dict[str, Any] = {"peak_rss": _peak_rss(settings, stores, args.rss_runs or runs, stamp)}
        workloads.reset_schema(settings)
        run_settings = {"chunk_rows": settings.chunk_rows, "fetch_batch": settings.fetch_batch,
                        "chroma_max_batch": chroma_source.max_batch(chroma_source.SourceSpec(path=str(big)), 10**9)}

        def migrate(i: int) -> dict[str, Any]:
            workloads.checkpoint(settings)
            return workloads.run_migration(settings, big, collection, f"bench-{i}-{stamp}").as_dict()

        migration_runs = _timed_runs("migration (load)", runs, migrate, "load_rows_per_s")
        migration_median = _median_of(migration_runs)
        benchmarks["migration"] = {"runs": migration_runs, "median": migration_median}
        _say(f"migration median: load {migration_median['load_rows_per_s']:,.0f} rows/s, end to end "
             f"{migration_median['e2e_rows_per_s']:,.0f} rows/s, {migration_median['wall_s']:.1f} s")

        raw_runs = _raw_copy_runs(settings, big, collection, runs)
        raw_median = _median_of(raw_runs)
        benchmarks["raw_copy"] = {"runs": raw_runs, "median": raw_median,
                                  "ratio": round(migration_median["load_rows_per_s"] / raw_median["rows_per_s"], 4),
                                  "ratio_is": "migration load rows/s ÷ raw COPY rows/s"}

        insert_rows = min(rows, args.insert_rows)
        if insert_rows:
            insert_runs = _insert_loop_runs(settings, big, collection, insert_rows, runs)
            insert_median = _median_of(insert_runs)
            benchmarks["insert_loop"] = {
                "rows": insert_rows, "runs": insert_runs, "median": insert_median,
                "ratio": round(migration_median["load_rows_per_s"] / insert_median["rows_per_s"], 4),
                "ratio_is": "migration load rows/s ÷ INSERT loop rows/s"}

        profile = None
        if not args.no_profile:
            _say("profiling one chunk load")
            profile = workloads.profile_chunk_load(settings, big, collection, f"bench-profile-{stamp}")
        workloads.reset_schema(settings)
    finally:
        if not args.keep_server:
            runtime.stop(settings)
            _say("embedded PostgreSQL stopped")

    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/run_bench.py " + " ".join(sys.argv[1:]),
        "elapsed_s": round(time.perf_counter() - started, 1),
        "rows": rows, "dimensions": DIMENSIONS, "runs": runs, "rss_runs": args.rss_runs or runs,
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

    if args.report_only:
        results = json.loads(args.results.read_text())
        report.write(results, args.results, args.markdown)
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
