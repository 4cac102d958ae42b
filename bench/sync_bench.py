"""What a live sync costs (issue 20): ``vectorops sync`` at 0.1 %, 1 % and 10 % of a collection changed, against a
full re-migration, and the window of ``vectorops cutover``.

On the bench's own embedded server (``bench/.cache/home``, see ``isolation.py``), one collection of N × 384
float32 vectors with short documents and metadata (the ``embedding``-shaped store of ``synthetic_store.py``; the
migration's cross-check refuses Gaussian vectors). The cached store is never written: each run copies it to
``bench/.cache/sync-scratch/`` (seeding marker removed) and ``sync_changes.py`` writes the changes into the copy
with chromadb's own client, in a fresh process. Each run, ``--runs`` times:

1. ``vectorops migrate`` of the copy into a fresh schema: the baseline, a full re-migration;
2. for each fraction, smallest first: change that many records (a mix of vector + document updates,
   metadata-only updates, adds, deletes and upserts; ``sync_changes.py``), then ``vectorops sync``;
3. change 0.1 % more, then ``vectorops cutover``; the schema and its ledger rows are dropped afterwards.

Every step is the ``vectorops`` command in a fresh process (``sync_steps.py``), after a
``CHECKPOINT``: its wall time, and the sync's own seconds and the cutover's window as ``vectorops.sync_runs``
records them. In the child, a few functions are wrapped to time the phases (id scan, reads, applies). Figures:
medians; changes/s (changed records ÷ the sync's own seconds); and the ratio sync ÷ full migration (walls).

``--scale`` is the single pass for large stores (seeded and cached when missing, the seeding timed): one
migration, one 0.1 % sync, one cutover after a 0.1 % change::

    .venv/bin/python bench/sync_bench.py [--rows 100000] [--runs 3]
    nohup .venv/bin/python bench/sync_bench.py --scale --rows 1000000 > bench/.cache/sync_bench_1m.log 2>&1 &

``--tree PATH`` runs the steps with another checkout's code (``git worktree add /tmp/sync-bench-tree HEAD``), so
that others' edits to this working tree during a long run change nothing.

It prints one JSON document and writes it to ``bench/.cache/sync_bench-<rows>.json`` (``-scale`` for ``--scale``).
``make bench`` runs it through ``run_bench.py`` (``--only sync``; ``SYNC_1M=1`` adds the 1,000,000-row pass).
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

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
FRACTIONS = (0.001, 0.01, 0.1)
CUTOVER_FRACTION = 0.001
SCHEMA = "sync_bench"
def _med(values: list[float]) -> float:
    return round(float(statistics.median(values)), 3)


def summarize(migrations: list[dict[str, Any]], syncs: dict[str, list[dict[str, Any]]],
              cutovers: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians, changes/s and ratios over the runs; the phases' medians."""
    base = _med([m["wall_s"] for m in migrations])

    def phases(steps: list[dict[str, Any]]) -> dict[str, float]:
        labels = sorted({label for s in steps for label in s["phases"]})
        return {label: _med([s["phases"].get(label, {"s": 0.0})["s"] for s in steps]) for label in labels}

    out: dict[str, Any] = {"migrate_wall_s": base, "migrate_runs_s": [m["wall_s"] for m in migrations],
                           "sync": {}, "cutover": {}}
    for label, steps in syncs.items():
        wall, own = _med([s["wall_s"] for s in steps]), _med([s["sync_run"]["seconds"] for s in steps])
        out["sync"][label] = {"changes": steps[0]["changes"], "wall_s": wall, "sync_seconds": own,
                              "changes_per_s": round(steps[0]["changes"] / own, 1),
                              "ratio_wall_over_migrate": round(wall / base, 4),
                              "ratio_sync_seconds_over_migrate": round(own / base, 4),
                              "runs_wall_s": [s["wall_s"] for s in steps],
                              "runs_sync_seconds": [round(s["sync_run"]["seconds"], 2) for s in steps],
                              "counts_match": all(s["counts_match"] for s in steps), "phases_s": phases(steps)}
    if cutovers:
        out["cutover"] = {"changes": cutovers[0]["changes"],
                          "window_s": _med([c["sync_run"]["window_seconds"] for c in cutovers]),
                          "wall_s": _med([c["wall_s"] for c in cutovers]),
                          "runs_window_s": [round(c["sync_run"]["window_seconds"], 2) for c in cutovers],
                          "runs_wall_s": [c["wall_s"] for c in cutovers],
                          "counts_match": all(c["counts_match"] for c in cutovers), "phases_s": phases(cutovers)}
    return out


def run(rows: int, runs: int, fractions: tuple[float, ...] = FRACTIONS) -> dict[str, Any]:
    """Measure at ``rows``: ``runs`` × (migrate, a sync per fraction, a cutover); medians and every step.

    The store is seeded first (in a child process, timed) unless cached. With one fraction and one run this is
    the ``--scale`` pass. Call after :func:`isolation.isolate`.
    """
    import sync_steps
    from synthetic_store import seed_store, store_path

    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap

    seed_seconds = seed_timed(rows)
    dsn = bootstrap(load_settings())
    cached = seed_store(store_path(CACHE_DIR, rows, shape="embedding"), rows, shape="embedding", log=False)
    load_at_start = os.getloadavg()
    migrations: list[dict[str, Any]] = []
    syncs: dict[str, list[dict[str, Any]]] = {f"{f:.1%}": [] for f in fractions}
    cutovers: list[dict[str, Any]] = []
    for i in range(runs):
        copied = time.perf_counter()
        store = sync_steps.scratch_copy(cached.path, f"chroma-{rows}-run{i}")
        copy_s = time.perf_counter() - copied
        schema, key = f"{SCHEMA}_{rows}_{i}", None
        try:
            step, key = sync_steps.migrate(dsn, store, schema, rows)
            migrations.append(step | {"copy_s": round(copy_s, 1)})
            _say(f"run {i + 1}/{runs}: migrate {rows:,} rows {step['wall_s']} s (store copied in {copy_s:.1f} s)")
            for k, fraction in enumerate(fractions):
                done = sync_steps.sync_step(dsn, store, schema, key, "sync", round(rows * fraction), 1000 + k)
                syncs[f"{fraction:.1%}"].append(done | {"fraction": fraction})
                _say(f"run {i + 1}/{runs}: sync of {done['changes']:,} changes ({fraction:.1%}): wall "
                     f"{done['wall_s']} s, own {done['sync_run']['seconds']:.2f} s, {done['changes_per_s']} "
                     f"changes/s; counts match: {done['counts_match']}")
            done = sync_steps.sync_step(dsn, store, schema, key, "cutover", round(rows * CUTOVER_FRACTION), 2000)
            cutovers.append(done)
            _say(f"run {i + 1}/{runs}: cutover after {done['changes']:,} changes: window "
                 f"{done['sync_run']['window_seconds']:.2f} s, wall {done['wall_s']} s")
        finally:
            sync_steps.drop(dsn, schema, key)
            shutil.rmtree(store, ignore_errors=True)
    return {"rows": rows, "dimensions": 384, "runs": runs, "shape": "embedding", "seed_seconds": seed_seconds,
            "load_average_at_start": [round(x, 2) for x in load_at_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "median": summarize(migrations, syncs, cutovers),
            "steps": {"migrate": migrations, "sync": syncs, "cutover": cutovers}}


def seed_timed(rows: int) -> float | None:
    """Seed the ``embedding`` store of ``rows`` in a child process unless cached: its seconds (``None``: cached)."""
    from synthetic_store import is_seeded, store_path

    if is_seeded(store_path(CACHE_DIR, rows, shape="embedding"), rows, shape="embedding"):
        return None
    _say(f"seeding {rows:,} × 384 (embedding shape)")
    started = time.perf_counter()
    subprocess.run([sys.executable, str(BENCH_DIR / "synthetic_store.py"), "--rows", str(rows), "--shape",
                    "embedding"], check=True)
    return round(time.perf_counter() - started, 1)


def _say(message: str) -> None:
    print(f"[sync bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """Measure; print and write the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", action="store_true", help="one migration, one 0.1 %% sync, one cutover")
    parser.add_argument("--tree", type=Path, default=None,
                        help="run the steps with this checkout's code (e.g. a git worktree of one commit)")
    args = parser.parse_args(argv)
    if args.tree is not None:
        os.environ["SYNC_BENCH_TREE"] = str(args.tree.resolve())
    import isolation
    import sync_steps

    isolated = isolation.isolate()
    result = run(args.rows, 1, (0.001,)) if args.scale else run(args.rows, args.runs)
    result["isolation"] = isolated
    tree = sync_steps.tree_under_test()
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    uncommitted = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "plugins", "include"],
                                 capture_output=True, text=True, check=False).stdout.splitlines()
    result["code"] = {"tree": str(tree), "commit": commit, "uncommitted": uncommitted}
    out = CACHE_DIR / f"sync_bench-{args.rows}{'-scale' if args.scale else ''}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result["median"], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    sys.exit(main(sys.argv[1:]))
