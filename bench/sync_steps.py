"""The steps of the sync benchmark (``sync_bench.py``), each ``vectorops`` command in a fresh process.

``python bench/sync_steps.py --child OUT -- <vectorops argv>`` runs the command in this process with a few
functions wrapped to time the phases of a sync (:data:`WRAPPED`) and writes them to ``OUT``; the bench's own
process only copies stores, starts children and reads ``vectorops.sync_runs``. Import after
:func:`isolation.isolate`.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
SCRATCH = CACHE_DIR / "sync-scratch"
# (label, module, attribute) wrapped in the child; a function called as module.attribute is wrapped there
WRAPPED = (
    ("whole sync (sync_locked)", "vectorops.sync.run", "sync_locked"),
    ("locate the store's files", "vectorops.sync.run", "source_files"),
    ("list changes (id scan, COPY of ids, anti-joins)", "vectorops.sync.file_pass", "list_changes"),
    ("list changes: id scan + COPY of ids", "vectorops.sync.changeset", "_copy_ids"),
    ("read the changed records (read_latest)", "vectorops.chroma.latest", "read_latest"),
    ("apply batches (COPY, upsert, delete, read point)", "vectorops.sync.apply", "apply_batch"),
    ("apply batches: COPY into the batch table", "vectorops.sync.apply", "write_fetched"),
    ("parity of ids (anti-join counts)", "vectorops.sync.run", "_in_parity"),
    ("lag count", "vectorops.chroma.files.changes", "count_changed_since"),
    ("cutover: full parity", "vectorops.sync.cutover", "_parity"),
)
# (label, text of the statement): statements of a sync timed at psycopg's Connection.execute
STATEMENTS = (
    ("apply batches: upsert into the live table (HNSW kept)", "ON CONFLICT (id) DO UPDATE"),
    ("apply batches: delete from the live table", "WHERE id = ANY(%s) RETURNING id"),
    ("list changes: anti-join for changed records", "FROM pg_temp.vectorops_sync_source s\nWHERE s.seq >"),
)


def child(out: str, argv: list[str]) -> int:
    """Run ``vectorops <argv>`` in this process with the phases of :data:`WRAPPED` timed; write them to ``out``."""
    import importlib

    import psycopg
    from psycopg import sql

    import vectorops
    from vectorops.cli.main import main as cli_main

    imported = Path(vectorops.__file__).resolve()
    if not str(imported).startswith(str(tree_under_test() / "plugins") + os.sep):
        raise SystemExit(f"imported vectorops from {imported}, not from {tree_under_test()}")

    phases: dict[str, dict[str, Any]] = {}

    def note(label: str, seconds: float) -> None:
        entry = phases.setdefault(label, {"s": 0.0, "calls": 0})
        entry["s"], entry["calls"] = round(entry["s"] + seconds, 4), entry["calls"] + 1

    def timed_iter(label: str, items: Iterator[Any]) -> Iterator[Any]:
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                note(label, time.perf_counter() - started)
            yield item

    def timed(label: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            finally:
                note(label, time.perf_counter() - started)
            return timed_iter(label, result) if inspect.isgenerator(result) else result
        return wrapper

    for label, module_name, name in WRAPPED:
        module = importlib.import_module(module_name)
        setattr(module, name, timed(label, getattr(module, name)))
    execute = psycopg.Connection.execute

    def timed_execute(conn: psycopg.Connection, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query.as_string(conn) if isinstance(query, sql.Composable) else str(query)
        label = next((label for label, marker in STATEMENTS if marker in text), None)
        if label is None:
            return execute(conn, query, *args, **kwargs)
        started = time.perf_counter()
        try:
            return execute(conn, query, *args, **kwargs)
        finally:
            note(label, time.perf_counter() - started)

    psycopg.Connection.execute = timed_execute  # type: ignore[method-assign]
    started = time.perf_counter()
    code = cli_main(argv)
    Path(out).write_text(json.dumps({"rc": code, "in_process_s": round(time.perf_counter() - started, 3),
                                     "phases": phases}))
    return int(code or 0)


def tree_under_test() -> Path:
    """The checkout whose code the steps run: ``SYNC_BENCH_TREE`` (e.g. a worktree of one commit, so that edits
    to the working tree during a long run change nothing), else this checkout."""
    return Path(os.environ.get("SYNC_BENCH_TREE") or BENCH_DIR.parent).resolve()


def vectorops(dsn: str, argv: list[str]) -> dict[str, Any]:
    """``vectorops <argv>`` in a fresh process after a ``CHECKPOINT``: wall seconds, output, phases."""
    from vectorops.db.connect import connect

    with connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    out = CACHE_DIR / "sync_bench_child.json"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    tree = tree_under_test()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(out), "--", *argv],
                          env=dict(os.environ, PYTHONPATH=str(tree / "plugins")), cwd=str(tree),
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"vectorops {' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")
    found = json.loads(out.read_text())
    return {"wall_s": round(wall, 2), "in_process_s": found["in_process_s"], "phases": found["phases"],
            "stdout": done.stdout.strip().splitlines()[-3:]}


def scratch_copy(cached: Path, name: str) -> Path:
    """A fresh copy of the cached store ``cached`` under :data:`SCRATCH`, without its seeding marker."""
    from synthetic_store import MARKER

    copy = SCRATCH / name
    shutil.rmtree(copy, ignore_errors=True)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    shutil.copytree(cached, copy)
    (copy / MARKER).unlink()
    return copy


def change(store: Path, changes: int, seed: int) -> dict[str, Any]:
    """``changes`` records of the copy ``store`` changed by ``sync_changes.py`` in a fresh process."""
    done = subprocess.run([sys.executable, str(BENCH_DIR / "sync_changes.py"), "--path", str(store), "--changes",
                           str(changes), "--seed", str(seed)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sync_changes.py --changes {changes} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _last_sync(dsn: str, key: str) -> dict[str, Any]:
    from vectorops.db.connect import connect

    with connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT kind, status, added, updated, deleted, quarantined, seconds, window_seconds, "
                           "to_point - from_point FROM vectorops.sync_runs WHERE collection = %s "
                           "ORDER BY started_at DESC LIMIT 1", (key,)).fetchone()
    if row is None:
        raise RuntimeError(f"no sync_runs row for {key!r}")
    names = ("kind", "status", "added", "updated", "deleted", "quarantined", "seconds", "window_seconds", "seqs")
    return dict(zip(names, row, strict=True))


def table_stats(dsn: str, schema: str) -> dict[str, Any]:
    """The live table's cumulative row counters (HOT updates: rewrites that skipped every index) and its sizes."""
    from vectorops.db.connect import connect

    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        row = conn.execute("SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup, "
                           "pg_table_size(relid), pg_indexes_size(relid) FROM pg_stat_user_tables "
                           "WHERE schemaname = %s", (schema,)).fetchone()
    names = ("inserted", "updated", "hot_updated", "deleted", "dead", "table_bytes", "indexes_bytes")
    return dict(zip(names, row, strict=True)) if row else {}


def migrate(dsn: str, store: Path, schema: str, rows: int) -> tuple[dict[str, Any], str]:
    """Migrate the copy into a fresh ``schema``: the step and the collection's key."""
    import workloads
    from synthetic_store import COLLECTION

    from vectorops.db.connect import connect

    workloads.drop_schema(dsn, schema)
    step = vectorops(dsn, ["migrate", "--chroma-path", str(store), "--collection", COLLECTION, "--schema", schema,
                           "--previous-table", "keep"])
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT collection_key, loaded_count FROM vectorops.collection_registry "
                           "WHERE table_schema = %s", (schema,)).fetchone()
    if row is None or int(row[1]) != rows:
        raise RuntimeError(f"{schema} holds {row} rows, not {rows}:\n{step['stdout']}")
    return step, str(row[0])


def sync_step(dsn: str, store: Path, schema: str, key: str, command: str, changes: int, seed: int
              ) -> dict[str, Any]:
    """Change ``changes`` records, then ``vectorops <command>`` (``sync`` or ``cutover``): the step and its row."""
    from synthetic_store import COLLECTION

    written = change(store, changes, seed)
    step = vectorops(dsn, [command, "--chroma-path", str(store), "--collection", COLLECTION, "--schema", schema])
    row = _last_sync(dsn, key)
    counts = {k: row[k] for k in ("added", "updated", "deleted")}
    return {"changes": changes, "fraction": None, **step, "sync_run": row, "written": written,
            "table": table_stats(dsn, schema),
            "counts_match": counts == written["expected"] and row["quarantined"] == 0,
            "changes_per_s": round(changes / row["seconds"], 1) if row["seconds"] else None}


def drop(dsn: str, schema: str, key: str | None) -> None:
    """Drop the schema with its ledger rows, and the collection's sync runs."""
    import workloads

    from vectorops.db.connect import connect

    workloads.drop_schema(dsn, schema)
    if key is not None:
        with connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.sync_runs WHERE collection = %s", (key,))


if __name__ == "__main__":
    if sys.argv[1:2] != ["--child"] or sys.argv[3:4] != ["--"]:
        raise SystemExit("usage: sync_steps.py --child OUT -- <vectorops argv>")
    sys.exit(child(sys.argv[2], sys.argv[4:]))
