"""What issue 18 did to backups and restores: ``vectorops backup`` and ``vectorops restore`` of HEAD against a baseline.

On its own embedded server (``bench/.cache/restore-home``, port ``VECTOROPS_BENCH_RESTORE_PORT`` or 55434, else
any free port; never the developer's ``.vectorops``), one collection of 100,000 × 384 float32 vectors with short
documents and metadata (the seeded ``embedding``-shaped store of ``synthetic_store.py``) is migrated once by HEAD's
code into the schema ``restore_bench`` and reused by later runs. Then, alternating baseline and HEAD, ``--runs``
times each:

* ``vectorops backup --no-retention`` (take: ``pg_dump`` with the manifest's checks on one snapshot; verify: a
  restore into a scratch database compared with the manifest);
* ``vectorops restore --backup DIR --dsn <a fresh database on the same server>``; the database and the backup
  directory are dropped afterwards.

Each step is ``vectorops.cli.main([...])`` in a fresh process, as the ``vectorops`` command runs it, with the
``vectors`` of the code version under test first on ``PYTHONPATH`` (``<tree>/plugins``; the child checks which
``vectorops`` it imported). Its wall time is the figure; inside, a few functions are wrapped to time the phases
(a missing name, in the baseline, is skipped), and the server logs every statement of 200 ms or more
(``log_min_duration_statement``, set on this bench's own server), which splits ``pg_restore`` into its COPY and
its index builds. A ``CHECKPOINT`` runs before every step.

The baseline is a worktree of the commit before issue 18, made beforehand::

    git worktree add /tmp/bench-base 03bc5a1
    .venv/bin/python bench/restore_bench.py [--baseline-tree /tmp/bench-base] [--rows 100000] [--runs 3]
    git worktree remove --force /tmp/bench-base

It prints one JSON document (medians, ratios HEAD ÷ baseline, every run, phases) and writes it to
``bench/.cache/restore_bench.json``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"
HOME = CACHE_DIR / "restore-home"
DEFAULT_PORT = 55434
SCHEMA = "restore_bench"
LOG_MIN_MS = 200
RESULTS = CACHE_DIR / "restore_bench.json"
# (label, module, attribute): wrapped in the child to time the phases; the same function object bound in two
# modules is wrapped under each binding, so that each call is counted once
WRAPPED = (
    ("bootstrap (db up)", "vectorops.db", "bootstrap"),
    ("bootstrap (db up)", "vectorops.db.bootstrap", "bootstrap"),  # the layout since issue 19
    ("take", "vectorops.backup.jobs", "take_backup"),
    ("take: pg_dump beside the manifest checks", "vectorops.backup.take", "take_snapshot"),
    ("take: manifest checks (count, checksum, top-10)", "vectorops.backup.snapshot", "table_check"),
    ("verify", "vectorops.backup.jobs", "verify_and_record"),
    ("restore", "vectorops.backup.restore", "restore_backup"),
    ("file sha256 checks", "vectorops.backup.verify", "check_files"),
    ("file sha256 checks", "vectorops.backup.restore", "check_files"),
    ("pg_restore", "vectorops.backup.pg_tools", "restore_dump"),
    ("compare with the manifest (checksums, top-10)", "vectorops.backup.verify", "compare_database"),
    ("compare with the manifest (checksums, top-10)", "vectorops.backup.restore", "compare_database"),
    ("refuse code (select_restored_code)", "vectorops.backup.verify", "code_failures"),
    ("refuse code (select_restored_code)", "vectorops.backup.restore", "code_failures"),
    ("sweep abandoned staging", "vectorops.backup.restore", "sweep_abandoned_staging"),
    ("stage: rename + pg_dump of the verified schemas", "vectorops.backup.restore", "_stage_in_scratch"),
    ("stage: pg_restore --list", "vectorops.backup.pg_tools", "write_toc_without_schemas"),
    ("ledger carry-over + ownership", "vectorops.backup.restore", "_prepare_staging"),
    ("swap", "vectorops.backup.restore", "_swap"),
)
DURATION = re.compile(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*)")


def isolate() -> dict[str, str]:
    """Point vectorops at this bench's own home and port (its backups hold only this bench's collection)."""
    from vectorops.db.runtime import port_is_free, running_port

    HOME.mkdir(parents=True, exist_ok=True)
    for name in ("VECTOROPS_DSN", "CHROMA_DB_PATH", "VECTOROPS_OWNER_TOKEN", "VECTOROPS_SQL_DIR",
                 "VECTOROPS_PROJECT_DIR", "PYTHONPATH"):
        os.environ.pop(name, None)
    if os.environ.get("VECTOROPS_HOME") != str(HOME) or not os.environ.get("VECTOROPS_DB_PORT"):
        os.environ["VECTOROPS_HOME"] = str(HOME)
        wanted = int(os.environ.get("VECTOROPS_BENCH_RESTORE_PORT") or DEFAULT_PORT)
        port = running_port(HOME / "pgdata") or (wanted if port_is_free(wanted) else _free_port())
        os.environ["VECTOROPS_DB_PORT"] = str(port)
    os.environ["VECTOROPS_BACKUP_DIR"] = str(HOME / "backups")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return {name: os.environ[name] for name in ("VECTOROPS_HOME", "VECTOROPS_DB_PORT", "VECTOROPS_BACKUP_DIR")}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------------- the child

def child(tree: str, out: str, argv: list[str]) -> int:
    """Run ``vectorops <argv>`` in this process with phase timers; write the phases to ``out`` as JSON."""
    import importlib

    import vectorops

    try:  # the package layout since issue 19; a baseline tree from before it has a flat vectorops.cli
        cli_main: Any = importlib.import_module("vectorops.cli.main")
    except ImportError:
        cli_main = importlib.import_module("vectorops.cli")

    imported = str(Path(vectorops.__file__).resolve())
    if not imported.startswith(str(Path(tree).resolve()) + os.sep):
        raise SystemExit(f"imported vectorops from {imported}, not from {tree}")
    phases: dict[str, dict[str, Any]] = {}

    def timed(label: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                entry = phases.setdefault(label, {"s": 0.0, "calls": []})
                entry["calls"].append(round(time.perf_counter() - started, 3))
                entry["s"] = round(sum(entry["calls"]), 3)
        return wrapper

    for label, module_name, name in WRAPPED:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if callable(getattr(module, name, None)):
            setattr(module, name, timed(label, getattr(module, name)))
    started = time.perf_counter()
    code = cli_main.main(argv)
    Path(out).write_text(json.dumps({"rc": code, "vectorops": imported, "in_process_s": time.perf_counter() - started,
                                     "phases": phases}))
    return code


# --------------------------------------------------------------------------------------------------- the parent

def server_phases(text: str) -> dict[str, dict[str, float]]:
    """Seconds and count of the statements the server logged (``log_min_duration_statement``), by kind."""
    kinds: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        match = DURATION.search(line)
        if not match:
            continue
        ms, statement = float(match.group(1)), match.group(2).strip()
        upper = statement.upper()
        if upper.startswith("CREATE INDEX") and "USING HNSW" in upper:
            kind = "HNSW index build"
        elif upper.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX", "ALTER TABLE")):
            kind = "other index and constraint builds"
        elif upper.startswith("COPY") and "FROM STDIN" in upper:
            kind = "COPY in"
        elif upper.startswith("COPY") and "TO STDOUT" in upper:
            kind = "COPY out"
        elif upper.startswith(("CREATE DATABASE", "DROP DATABASE")):
            kind = "create/drop database"
        elif "SHA256" in upper or "DIGEST" in upper or "CHECKSUM" in upper or "STRING_AGG" in upper:
            kind = "checksum queries"
        elif "<=>" in statement or "<->" in statement or "<#>" in statement:
            kind = "exact top-10 queries"
        else:
            kind = "other statements >= 200 ms: " + " ".join(statement.split())[:60]
        entry = kinds.setdefault(kind, {"s": 0.0, "n": 0})
        entry["s"] = round(entry["s"] + ms / 1000, 3)
        entry["n"] += 1
    return kinds


def run_step(python: str, tree: Path, argv: list[str], log_path: Path, extra_path: Path | None = None
             ) -> dict[str, Any]:
    """``vectorops <argv>`` with ``tree``'s code in a fresh process: wall seconds, its output, the phases.

    :param extra_path: a directory put on ``PYTHONPATH`` after the tree's ``plugins`` (e.g. the tree's own package
        metadata, see ``migrate_bench.tree_metadata``).
    """
    out = CACHE_DIR / "restore_bench_child.json"
    out.unlink(missing_ok=True)
    paths = [str(tree / "plugins"), *([str(extra_path)] if extra_path else [])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    offset = log_path.stat().st_size
    started = time.perf_counter()
    done = subprocess.run([python, str(Path(__file__).resolve()), "--child", str(tree), str(out), "--", *argv],
                          env=env, capture_output=True, text=True, check=False, cwd=str(tree))
    wall = time.perf_counter() - started
    with log_path.open("rb") as log:
        log.seek(offset)
        logged = log.read().decode("utf-8", "replace")
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"vectorops {' '.join(argv)} ({tree}) exited {done.returncode}:\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")
    result = json.loads(out.read_text())
    return {"wall_s": round(wall, 2), "stdout": done.stdout, "vectorops": result["vectorops"],
            "phases": result["phases"], "server": server_phases(logged)}


def ensure_migrated(settings: Any, dsn: str, rows: int) -> dict[str, Any]:
    """Migrate the seeded store into ``restore_bench`` unless the registry holds exactly it there, every row.

    The store is the ``embedding`` shape: on Gaussian vectors Chroma's own HNSW finds too few true neighbours
    (recall 0.49 at 100,000 rows) for the validation gate's cross-check, and the migration is refused.
    """
    from synthetic_store import COLLECTION, seed_store, store_path

    from vectorops.db.connect import connect

    path = store_path(CACHE_DIR, rows, shape="embedding")
    with connect(dsn, autocommit=True) as conn:
        found = conn.execute("SELECT loaded_count, source_uri FROM vectorops.collection_registry "
                             "WHERE table_schema = %s", (SCHEMA,)).fetchall()
    if len(found) == 1 and int(found[0][0]) == rows and str(path) in str(found[0][1]):
        return {"migrated": "reused"}
    store = seed_store(path, rows, shape="embedding", log=False)
    import workloads

    workloads.drop_schema(dsn, SCHEMA)
    timing = workloads.run_migration(settings, store.path, COLLECTION, f"restore-bench-{rows}", schema=SCHEMA)
    return {"migrated_s": round(timing.wall_s, 1)}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _phase_medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds per wrapped phase and per logged server statement kind over the runs."""
    medians: dict[str, Any] = {}
    for source in ("phases", "server"):
        labels = sorted({label for run in runs for label in run[source]})
        medians[source] = {label: {"median_s": _median([run[source].get(label, {"s": 0.0})["s"] for run in runs]),
                                   "per_run": [run[source].get(label, {}).get("calls", run[source].get(label, {})
                                                                               .get("n")) for run in runs]}
                           for label in labels}
    return medians


def main(argv: list[str]) -> int:
    """Measure; print and write the JSON document."""
    if argv[:1] == ["--child"]:
        tree, out, rest = argv[1], argv[2], argv[4:]
        return child(tree, out, rest)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-tree", type=Path, default=Path("/tmp/bench-base"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    base = args.baseline_tree.resolve()
    if not (base / "plugins" / "vectorops").is_dir():
        raise SystemExit(f"--baseline-tree {base} has no plugins/vectorops: git worktree add {base} 03bc5a1")
    isolated = isolate()
    from psycopg import sql

    import vectorops
    from vectorops.config import load_settings
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    if not str(Path(vectorops.__file__).resolve()).startswith(str(PROJECT_DIR / "plugins")):
        raise SystemExit(f"the parent imported vectorops from {vectorops.__file__}, not {PROJECT_DIR / 'plugins'}")
    settings = load_settings()
    dsn = bootstrap(settings)
    with connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET log_min_duration_statement = {}").format(sql.Literal(LOG_MIN_MS)))
        conn.execute("SELECT pg_reload_conf()")
    migrated = ensure_migrated(settings, dsn, args.rows)
    log_path = settings.pgdata / "server.log"
    trees = {"baseline": base, "head": PROJECT_DIR}
    commits = {name: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, check=True).stdout.strip() for name, tree in trees.items()}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {"backup": [], "restore": []} for name in trees}
    sizes: dict[str, list[int]] = {name: [] for name in trees}
    load_at_start = os.getloadavg()
    for run in range(args.runs):
        for name, tree in trees.items():
            with connect(dsn, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            backup = run_step(sys.executable, tree, ["backup", "--no-retention"], log_path)
            found = re.search(r"^backup (\S+) in (\S+):", backup["stdout"], re.MULTILINE)
            if not found or "VERIFIED" not in backup["stdout"]:
                raise RuntimeError(f"{name}: no verified backup in:\n{backup['stdout']}")
            directory = Path(found.group(2))
            sizes[name].append(_tree_size(directory))
            target = f"restore_bench_{name}_{run}"
            with connect(dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
                conn.execute("CHECKPOINT")
            try:
                restore = run_step(sys.executable, tree, ["restore", "--backup", str(directory), "--dsn",
                                                          runtime.dsn(settings, target)], log_path)
                if "VERIFIED" not in restore["stdout"]:
                    raise RuntimeError(f"{name}: restore not verified:\n{restore['stdout']}")
            finally:
                with connect(dsn, autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
                shutil.rmtree(directory, ignore_errors=True)
            runs[name]["backup"].append(backup)
            runs[name]["restore"].append(restore)
            print(f"run {run + 1} {name}: backup {backup['wall_s']} s, restore {restore['wall_s']} s, "
                  f"backup dir {sizes[name][-1] / 2**20:.1f} MB", file=sys.stderr, flush=True)
    summary: dict[str, Any] = {"rows": args.rows, "dimensions": 384, "runs": args.runs, "commits": commits,
                               "isolation": isolated, "load_average_at_start": [round(x, 2) for x in load_at_start],
                               "load_average_at_end": [round(x, 2) for x in os.getloadavg()], **migrated}
    for step in ("backup", "restore"):
        walls = {name: [r["wall_s"] for r in runs[name][step]] for name in trees}
        summary[step] = {name: {"median_s": _median(walls[name]), "runs_s": walls[name],
                                **_phase_medians(runs[name][step])} for name in trees}
        summary[step]["ratio_head_over_baseline"] = round(statistics.median(walls["head"])
                                                          / statistics.median(walls["baseline"]), 2)
    summary["backup_dir_mb"] = {name: round(statistics.median(s) / 2**20, 1) for name, s in sizes.items()}
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    sys.exit(main(sys.argv[1:]))
