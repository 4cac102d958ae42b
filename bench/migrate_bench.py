"""What issue 19 (the package reshaped by pipeline stage) did to a migration: ``vectorops migrate`` of HEAD against
a baseline tree, end to end.

On the restore bench's own embedded server (``bench/.cache/restore-home``; see ``restore_bench.py``), one
collection of 100,000 × 384 float32 vectors with short documents and metadata (the seeded ``embedding``-shaped
store of ``synthetic_store.py``) is migrated, alternating baseline and HEAD, ``--runs`` times each, each time into
a fresh schema (``migrate_bench_<tree>_<run>``, dropped afterwards with its ledger rows). Each migration is
``vectorops migrate`` in a fresh process with that tree's code first on ``PYTHONPATH`` (the child checks which
``vectorops`` it imported), so it runs the tree's own DAG through ``dag.test()``: prepare, the mapped chunk loads,
validation, the HNSW build and promotion. Its wall time is the figure. A ``CHECKPOINT`` runs before every run.

The baseline is a worktree of the commit before issue 19, made beforehand::

    git worktree add /tmp/bench-base 14ad868
    .venv/bin/python bench/migrate_bench.py [--baseline-tree /tmp/bench-base] [--rows 100000] [--runs 3]
    git worktree remove --force /tmp/bench-base

It prints one JSON document (medians, the ratio HEAD ÷ baseline, every run) and writes it to
``bench/.cache/migrate_bench.json``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS = BENCH_DIR / ".cache" / "migrate_bench.json"


def tree_metadata(tree: Path, out: Path) -> Path:
    """Package metadata (``vectorops-0.1.0.dist-info``) with ``tree``'s own entry points, in ``out``.

    Airflow finds the ``chroma`` connection type through the installed package's provider entry point; the venv's
    metadata names HEAD's module (``vectorops.airflow.provider_info``), which a tree from before issue 19 lacks.
    Put first on the child's path, this makes Airflow import the tree's own module.
    """
    import tomllib

    project = tomllib.loads((tree / "pyproject.toml").read_text())["project"]
    info = out / "vectorops-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vectorops\nVersion: 0.1.0\n")
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items()) + "\n"
        for group, entries in groups.items()))
    return out


def main(argv: list[str]) -> int:
    """Measure; print and write the JSON document."""
    import restore_bench
    import workloads
    from synthetic_store import COLLECTION, seed_store, store_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-tree", type=Path, default=Path("/tmp/bench-base"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    base = args.baseline_tree.resolve()
    if not (base / "plugins" / "vectorops").is_dir():
        raise SystemExit(f"--baseline-tree {base} has no plugins/vectorops: git worktree add {base} 14ad868")
    isolated = restore_bench.isolate()

    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    settings = load_settings()
    dsn = bootstrap(settings)
    store = seed_store(store_path(restore_bench.CACHE_DIR, args.rows, shape="embedding"), args.rows,
                       shape="embedding", log=False)
    log_path = settings.pgdata / "server.log"
    trees = {"baseline": base, "head": PROJECT_DIR}
    commits = {name: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, check=True).stdout.strip() for name, tree in trees.items()}
    metadata = {name: tree_metadata(tree, restore_bench.CACHE_DIR / f"metadata-{name}") for name, tree in trees.items()}
    walls: dict[str, list[float]] = {name: [] for name in trees}
    load_at_start = os.getloadavg()
    for run in range(args.runs):
        for name, tree in trees.items():
            schema = f"migrate_bench_{name}_{run}"
            workloads.drop_schema(dsn, schema)
            with connect(dsn, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            try:
                step = restore_bench.run_step(sys.executable, tree, [
                    "migrate", "--chroma-path", str(store.path), "--collection", COLLECTION,
                    "--schema", schema, "--previous-table", "keep"], log_path, metadata[name])
                with connect(dsn, autocommit=True) as conn:
                    row = conn.execute("SELECT loaded_count FROM vectorops.collection_registry "
                                       "WHERE table_schema = %s", (schema,)).fetchone()
                if row is None or int(row[0]) != args.rows:
                    raise RuntimeError(f"{name}: {schema} holds {row} rows, not {args.rows}:\n{step['stdout'][-2000:]}")
            finally:
                workloads.drop_schema(dsn, schema)
            walls[name].append(step["wall_s"])
            print(f"run {run + 1} {name}: migrate {step['wall_s']} s", file=sys.stderr, flush=True)
    summary: dict[str, Any] = {
        "rows": args.rows, "dimensions": 384, "runs": args.runs, "commits": commits, "isolation": isolated,
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "migrate": {name: {"median_s": round(statistics.median(w), 2), "runs_s": w} for name, w in walls.items()},
        "ratio_head_over_baseline": round(statistics.median(walls["head"]) / statistics.median(walls["baseline"]), 2),
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    sys.exit(main(sys.argv[1:]))
