"""``vectorops migrate`` against the minimal hand pipeline (issue 23), each in a fresh process, alternating.

``python bench/pipeline_bench.py --rows N [--runs R] [--tree WORKTREE] [--only vectorops|minimal]``, or
``make bench`` (benchmark ``pipeline``). On the benchmark's own server, with the cached embedding-shaped store
of N rows (seeded when missing):

* **vectorops**: ``vectorops migrate --chroma-path STORE --collection bench_vectors --schema pipeline`` as a user
  runs it (the steps in its own process, without Airflow: prepare, chunk loads, finalize with the validation gate
  beside the HNSW build, promotion), timed from the process's start to its exit; the attempt's own figures
  (prepare, loads, gate, index build, finalize) come from ``vectorops.migration_runs``;
* **minimal**: ``bench/minimal_pipeline.py`` on a private copy of the store made before the clock starts (Chroma's
  client writes into the directory it opens): ``get()`` page by page, one binary COPY, the HNSW build with the
  source's m and ef_construction and the same ``maintenance_work_mem`` as vectorops' build.

A ``CHECKPOINT`` runs before every run. Each run's peak RSS is the summed RSS of its process tree, sampled every
0.2 s (the PostgreSQL server's processes are not counted). ``--tree`` runs another worktree's vectorops (the
baseline commit) with this venv, for HEAD-against-baseline figures. Writes
``bench/.cache/pipeline_bench-<rows>.json`` and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import isolation

SCHEMA = "pipeline"
MINIMAL_SCHEMA = "pipeline_minimal"
COLLECTION = "bench_vectors"


def _say(message: str) -> None:
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree is not None:  # the other tree's package first, this venv's dependencies after it
        env["PYTHONPATH"] = f"{tree / 'plugins'}{os.pathsep}{env.get('PYTHONPATH', '')}"
        env["VECTOROPS_SQL_DIR"] = str(tree / "plugins" / "vectorops" / "sql")
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(tree / "dags")
    return env


def _sampled(command: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str, float, float]:
    """Run ``command``; sample the summed RSS of it and its descendants (the Chroma child, the encoder) every
    0.2 s. The PostgreSQL server's processes are not counted: they are the server's, beside either pipeline.

    :return: the exit code, stdout, stderr, the wall seconds and the peak RSS in MB.
    """
    import tempfile
    import threading

    import psutil

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            try:
                root = psutil.Process(proc.pid)
            except psutil.NoSuchProcess:
                return
            while not done.is_set():
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read(), wall, peak[0] / (1024 * 1024)


def _vectorops(store: Path, tree: Path | None) -> dict[str, Any]:
    vectorops = Path(sys.executable).with_name("vectorops")
    code, stdout, stderr, wall, peak_mb = _sampled(
        [str(vectorops), "migrate", "--chroma-path", str(store), "--collection", COLLECTION, "--schema", SCHEMA,
         "--previous-table", "drop"], env=_env(tree))
    if code != 0:
        raise RuntimeError(f"vectorops migrate failed ({code}):\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(peak_mb, 1), **_attempt_figures()}


def _attempt_figures() -> dict[str, Any]:
    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    with connect(bootstrap(load_settings()), autocommit=True) as conn:
        row = conn.execute(
            "SELECT prepare_seconds, load_seconds, validate_seconds, index_seconds, finalize_seconds, loaded_count "
            "FROM vectorops.migration_runs WHERE target_schema = %s ORDER BY started_at DESC LIMIT 1",
            (SCHEMA,)).fetchone()
    if row is None:
        raise RuntimeError("no migration_runs row for the benchmark's schema")
    names = ("prepare_s", "load_s", "gate_s", "index_s", "finalize_s", "loaded")
    return {name: (round(float(value), 3) if isinstance(value, float) else value)
            for name, value in zip(names, row, strict=True)}


def _minimal(store: Path, dsn: str, mem_mb: int) -> dict[str, Any]:
    copy = isolation.CACHE_DIR / "pipeline-minimal-store"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store, copy)
    try:
        code, stdout, stderr, wall, peak_mb = _sampled(
            [sys.executable, str(isolation.BENCH_DIR / "minimal_pipeline.py"), "--path", str(copy), "--dsn", dsn,
             "--schema", MINIMAL_SCHEMA, "--maintenance-work-mem-mb", str(mem_mb)])
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    if code != 0:
        raise RuntimeError(f"minimal_pipeline.py failed ({code}):\n{stderr[-3000:]}")
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(peak_mb, 1), **json.loads(stdout.strip().splitlines()[-1])}


def _forget(dsn: str) -> None:
    """Drop both pipelines' schemas and vectorops' rows of the migrations into them."""
    import workloads

    workloads.drop_schema(dsn, SCHEMA)
    workloads.drop_schema(dsn, MINIMAL_SCHEMA)


def run(rows: int, runs: int, tree: Path | None = None, only: str | None = None) -> dict[str, Any]:
    """Alternate the two pipelines ``runs`` times each on the ``rows`` store.

    :param only: ``vectorops`` or ``minimal`` to run one side alone. The other side's runs are taken from this
        size's previous JSON when it has them (``reused``: their time, named in the report), else there is no ratio.
    :return: every run, the medians and the ratio vectorops ÷ minimal (of the medians, and per pair).
    """
    import workloads
    from synthetic_store import is_seeded, seed_store, store_path

    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.load.indexing import maintenance_mem_mb

    settings = load_settings()
    dsn = bootstrap(settings)
    store = store_path(isolation.CACHE_DIR, rows, 384, "embedding")
    if not is_seeded(store, rows, 384, "embedding"):
        _say(f"seeding {rows:,} rows into {store}")
        seed_store(store, rows, 384, shape="embedding")
    mem_mb = maintenance_mem_mb(rows, 384, 16, settings.max_maintenance_work_mem_mb)
    found: dict[str, list[dict[str, Any]]] = {"vectorops": [], "minimal": []}
    load_start = os.getloadavg()
    reused: dict[str, Any] = {}
    previous = result_path(rows)
    if only and previous.is_file():
        earlier = json.loads(previous.read_text())
        other = "minimal" if only == "vectorops" else "vectorops"
        if earlier.get("runs", {}).get(other):
            found[other] = earlier["runs"][other]
            # the time those runs were measured: a file that itself reused them names the run they came from
            carried = (earlier.get("reused") or {}).get("from") if (earlier.get("reused") or {}).get("side") == other \
                else None
            reused = {"side": other, "from": carried or earlier.get("finished_at") or time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(previous.stat().st_mtime))}
    _forget(dsn)
    try:
        for i in range(runs):
            order = ("vectorops", "minimal") if i % 2 == 0 else ("minimal", "vectorops")
            for name in (n for n in order if only in (None, n)):
                workloads.checkpoint(settings)
                result = _vectorops(store, tree) if name == "vectorops" else _minimal(store, dsn, mem_mb)
                found[name].append(result)
                _say(f"{rows:,} rows, {name} run {i + 1}/{runs}: {result['wall_s']:.1f} s "
                     f"(index {result['index_s']:.1f} s"
                     + (f", gate {result['gate_s']:.1f} s)" if name == "vectorops" else ")"))
    finally:  # the store's collection is free again for the other benchmarks' migrations
        _forget(dsn)
    medians = {name: {key: round(statistics.median(r[key] for r in results), 3)
                      for key in results[0] if isinstance(results[0][key], int | float)}
               for name, results in found.items() if results}
    mine, base = medians.get("vectorops", {}), medians.get("minimal", {})
    both = bool(mine and base)
    return {
        "rows": rows, "runs": found, "medians": medians, "maintenance_work_mem_mb": mem_mb, "only": only,
        "reused": reused or None, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ratio": round(mine["wall_s"] / base["wall_s"], 3) if both else None,
        "ratio_per_pair": [round(a["wall_s"] / b["wall_s"], 3)
                           for a, b in zip(found["vectorops"], found["minimal"], strict=False)] if both else [],
        "gate_over_index": round(mine["gate_s"] / mine["index_s"], 3) if mine.get("index_s") else None,
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        "tree": str(tree) if tree else None,
    }


def result_path(rows: int, tree: Path | None = None) -> Path:
    """``bench/.cache/pipeline_bench-<rows>[-<tree>].json``."""
    return isolation.CACHE_DIR / f"pipeline_bench-{rows}{'-' + tree.name if tree else ''}.json"


def main() -> int:
    """Run the benchmark and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=None, help="a worktree whose vectorops to run instead")
    parser.add_argument("--only", choices=("vectorops", "minimal"), default=None,
                        help="run one side alone; the other side's runs come from the previous JSON of this size")
    args = parser.parse_args()
    isolation.isolate()
    result = run(args.rows, args.runs, args.tree.resolve() if args.tree else None, args.only)
    out = result_path(args.rows, args.tree)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("rows", "medians", "ratio", "ratio_per_pair", "gate_over_index")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
