"""The timed migration: vectorops' real step functions in-process, timed per step, and its profile.

The baselines it is compared with live in ``baselines.py``.

Import only after :func:`isolation.isolate` ran, so that ``vectorops`` reads the benchmark's settings.
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from vectorops.chroma import fetch
from vectorops.config import Settings
from vectorops.db.bootstrap import bootstrap
from vectorops.db.connect import connect
from vectorops.load import copy
from vectorops.migration import steps as migration_steps
from vectorops.migration.request import request_from_params

SCHEMA = "bench"


@dataclass(frozen=True)
class MigrationTiming:
    """One migration of a collection, timed per step (seconds, wall clock).

    ``fetch_s`` (Chroma reads) and ``encode_s`` (checks and binary COPY encoding) are parts of ``load_s``;
    when the loader fetches in another thread (``fetch_overlapped``) the fetch time overlaps the rest and is
    not a serial share. ``index_s`` (the HNSW build, as vectorops measured it) is part of ``finalize_s``.
    """

    run_id: str
    rows: int
    loaded: int
    chunks: int
    prepare_s: float
    load_s: float
    fetch_s: float
    encode_s: float
    fetch_overlapped: bool
    finalize_s: float
    index_s: float
    wall_s: float
    vectorops_rows_per_s: float

    @property
    def load_rows_per_s(self) -> float:
        """Rows per second of prepare plus every chunk load (no index, no promotion)."""
        return self.rows / (self.prepare_s + self.load_s)

    @property
    def load_without_fetch_rows_per_s(self) -> float | None:
        """Rows per second of prepare plus the loads, less the time spent in Chroma fetches.

        ``None`` when the fetches ran in another thread, overlapping the rest: then there is nothing to subtract.
        """
        if self.fetch_overlapped:
            return None
        return self.rows / max(self.prepare_s + self.load_s - self.fetch_s, 1e-9)

    @property
    def e2e_rows_per_s(self) -> float:
        """Rows per second of the whole migration, index build and promotion included."""
        return self.rows / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form with the derived rates."""
        data = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        data["load_rows_per_s"] = round(self.load_rows_per_s, 1)
        no_fetch = self.load_without_fetch_rows_per_s
        data["load_without_fetch_rows_per_s"] = None if no_fetch is None else round(no_fetch, 1)
        data["e2e_rows_per_s"] = round(self.e2e_rows_per_s, 1)
        return data


def checkpoint(settings: Settings) -> None:
    """Flush dirty buffers so that one run's writes do not slow the next one down."""
    with connect(bootstrap(settings), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


OWN_ROWS = ("collection_registry", "validation_results", "index_health", "search_probes", "search_metrics",
            "maintenance_log")


def drop_schema(dsn: str, schema: str) -> None:
    """Drop ``schema`` and every ``vectorops.*`` row of migrations into it and of measurements of it.

    Claims and chunks go with their migration runs (``ON DELETE CASCADE``).
    """
    with connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute("""DELETE FROM vectorops.migration_source_ids WHERE attempt_id IN
                            (SELECT attempt_id FROM vectorops.migration_runs WHERE target_schema = %s)""", (schema,))
        conn.execute("""DELETE FROM vectorops.quarantine WHERE attempt_id IN
                            (SELECT attempt_id FROM vectorops.migration_runs WHERE target_schema = %s)""", (schema,))
        conn.execute("DELETE FROM vectorops.migration_runs WHERE target_schema = %s", (schema,))
        for name in OWN_ROWS:
            conn.execute(sql.SQL("DELETE FROM {} WHERE table_schema = %s").format(sql.Identifier("vectorops", name)),
                         (schema,))


def reset_schema(settings: Settings) -> None:
    """Drop the benchmark's schema and its bookkeeping rows (see :func:`drop_schema`), then create it empty, recorded
    as vectorops's (a migration refuses a schema vectorops did not create)."""
    from vectorops.load import shadow

    dsn = bootstrap(settings)
    drop_schema(dsn, SCHEMA)
    with connect(dsn, autocommit=True) as conn:
        shadow.create_schema(conn, SCHEMA, "vectorops-bench")


def migration_request(store_path: Path, collection: str, settings: Settings, schema: str = SCHEMA) -> Any:
    """``request_from_params({"chroma_path": ..., "target_schema": schema, ...})``, validated as the DAG does."""
    params = {"chroma_path": str(store_path), "target_schema": schema, "collections": [collection]}
    return request_from_params(params, settings)


@contextmanager
def phase_clock() -> Iterator[dict[str, float]]:
    """Accumulate the seconds spent in ``chroma_fetch.fetch`` and ``load.copy.encode_batch`` in the block.

    Wraps the module attributes that ``migration.chunk_load.copy_chunk`` calls (one call per fetched batch and per
    encoded slice of ``load.copy.ENCODE_ROWS`` rows; about 1 µs each) and restores them afterwards. A name
    missing from the plugin is left alone.
    ``fetch_overlapped`` becomes 1.0 when a fetch ran off the calling thread (a prefetching loader).
    """
    clock = {"fetch_s": 0.0, "encode_s": 0.0, "fetch_overlapped": 0.0}
    caller = threading.get_ident()
    targets = [(fetch, "fetch", "fetch_s"), (copy, "encode_batch", "encode_s")]
    originals: list[tuple[Any, str, Callable[..., Any]]] = []

    def timed(func: Callable[..., Any], key: str) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                clock[key] += time.perf_counter() - started
                if key == "fetch_s" and threading.get_ident() != caller:
                    clock["fetch_overlapped"] = 1.0
        return wrapper

    for module, name, key in targets:
        func = getattr(module, name, None)
        if callable(func):
            originals.append((module, name, func))
            setattr(module, name, timed(func, key))
    try:
        yield clock
    finally:
        for module, name, func in originals:
            setattr(module, name, func)


def run_migration(settings: Settings, store_path: Path, collection: str, run_id: str,
                  on_step: Callable[[str], None] | None = None, schema: str = SCHEMA) -> MigrationTiming:
    """Migrate ``collection`` in-process into ``schema``: ``prepare``, ``load`` for every chunk, ``finalize``.

    :param on_step: called with ``"prepare"``, ``"load"`` and ``"finalize"`` as each step ends.
    :return: the timing of each step, with the Chroma fetch and row encoding shares of the loads.
    :raises RuntimeError: when the migration did not load every row.
    """
    request = migration_request(store_path, collection, settings, schema)
    started = time.perf_counter()
    plan = migration_steps.prepare(settings, request, collection, run_id)
    prepared = time.perf_counter()
    if on_step:
        on_step("prepare")
    loaded = 0
    with phase_clock() as clock:
        for chunk_no in plan.chunks:
            loaded += int(migration_steps.load(settings, plan, chunk_no)["loaded"])
    load_done = time.perf_counter()
    if on_step:
        on_step("load")
    summary = migration_steps.finalize(settings, plan)
    finished = time.perf_counter()
    if on_step:
        on_step("finalize")
    rows = int(plan.info.count)
    if summary["loaded"] != rows or loaded != rows:
        raise RuntimeError(f"migration {run_id} loaded {loaded} of {rows} rows (summary: {summary})")
    return MigrationTiming(
        run_id=run_id, rows=rows, loaded=loaded, chunks=len(plan.chunks), prepare_s=prepared - started,
        load_s=load_done - prepared, fetch_s=clock["fetch_s"], encode_s=clock["encode_s"],
        fetch_overlapped=bool(clock["fetch_overlapped"]),
        finalize_s=finished - load_done, index_s=float(summary["index_seconds"]), wall_s=finished - started,
        vectorops_rows_per_s=float(summary["rows_per_s"]))


def profile_chunk_load(settings: Settings, store_path: Path, collection: str, run_id: str,
                       limit: int = 20) -> dict[str, Any]:
    """cProfile of ``migration.prepare`` and of ``migration.load`` for the first chunk.

    The attempt is left unfinished; call :func:`reset_schema` afterwards.

    :return: the chunk's rows and, per step, the profiled seconds and the top ``limit`` functions by own and by
        cumulative time.
    """
    request = migration_request(store_path, collection, settings)
    prepare_profiler = cProfile.Profile()
    plan = prepare_profiler.runcall(migration_steps.prepare, settings, request, collection, run_id)
    load_profiler = cProfile.Profile()
    result = load_profiler.runcall(migration_steps.load, settings, plan, plan.chunks[0])
    return {"chunk_rows": int(result["read"]), "prepare": _top_functions(prepare_profiler, limit),
            "load": _top_functions(load_profiler, limit)}


def pyinstrument_chunk_load(settings: Settings, store_path: Path, collection: str, run_id: str,
                            limit: int = 25) -> dict[str, Any]:
    """pyinstrument profile (sampling every 1 ms, all threads) of ``migration.prepare`` and the first chunk's load.

    The attempt is left unfinished; call :func:`reset_schema` afterwards.

    :return: the chunk's rows, the profiled seconds and, per step, the frames with the most own time
        (``function``, ``file:line``, seconds, share) and pyinstrument's text call tree.
    """
    from pyinstrument import Profiler

    request = migration_request(store_path, collection, settings)
    steps: dict[str, Any] = {}
    with Profiler(interval=0.001, async_mode="disabled") as prepare_profiler:
        plan = migration_steps.prepare(settings, request, collection, run_id)
    with Profiler(interval=0.001, async_mode="disabled") as load_profiler:
        result = migration_steps.load(settings, plan, plan.chunks[0])
    for step, profiler in (("prepare", prepare_profiler), ("load", load_profiler)):
        session = profiler.last_session
        own: dict[str, float] = {}
        root = session.root_frame()
        stack = [root] if root is not None else []
        while stack:
            frame = stack.pop()
            key = f"{frame.function} ({_short_path(frame.file_path or '')}:{frame.line_no})"
            own[key] = own.get(key, 0.0) + frame.total_self_time
            stack.extend(frame.children)
        total = max(session.duration, 1e-9)
        top = sorted(own.items(), key=lambda kv: kv[1], reverse=True)[:limit]
        steps[step] = {"profiled_s": round(session.duration, 3),
                       "by_own_time": [{"function": name, "seconds": round(sec, 4), "share": round(sec / total, 4)}
                                       for name, sec in top],
                       "tree": profiler.output_text(unicode=True, color=False, show_all=False)[:12000]}
    return {"chunk_rows": int(result["read"]), **steps}


def _top_functions(profiler: cProfile.Profile, limit: int) -> dict[str, Any]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{_short_path(filename)}:{line}({name})", "calls": calls,
                     "tottime_s": round(tottime, 4), "cumtime_s": round(cumtime, 4),
                     "tottime_share": round(tottime / total, 4)})
    return {"profiled_s": round(total, 3),
            "by_own_time": sorted(rows, key=lambda r: r["tottime_s"], reverse=True)[:limit],
            "by_cumulative_time": sorted(rows, key=lambda r: r["cumtime_s"], reverse=True)[:limit]}


def _short_path(filename: str) -> str:
    """``vectorops/load/copy.py`` rather than the full site-packages or checkout path."""
    parts = Path(filename).parts
    for anchor in ("vectorops", "chromadb", "psycopg", "numpy", "pgvector"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor):])
    return Path(filename).name if filename.startswith(("/", ".")) else filename


def migrate_once(dsn: str, store: Path, collection: str, rows: int, schema: str, *extra: str,
                 say: Callable[[str], None] = print) -> dict[str, Any]:
    """``vectorops migrate`` of ``collection`` into ``schema`` (with ``extra`` arguments), unless the registry already
    holds this store there in full: the search benchmarks reuse one migrated table across runs."""
    import subprocess
    import sys

    with connect(dsn, autocommit=True) as conn:
        found = conn.execute("""SELECT loaded_count, to_regclass(format('%%I.%%I', table_schema, table_name))
                                FROM vectorops.collection_registry
                                WHERE table_schema = %s AND collection = %s AND source_uri = %s""",
                             (schema, collection, f"chroma+file://{store}")).fetchone()
    if found and found[0] == rows and found[1] is not None:
        say(f"reusing {schema}'s migrated {collection} ({rows:,} rows)")
        return {"reused": True}
    say(f"migrating {store.name} into schema {schema} with vectorops migrate")
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("vectorops")), "migrate", "--chroma-path", str(store),
                    "--collection", collection, "--schema", schema, "--previous-table", "keep", *extra],
                   check=True, stdout=sys.stderr)
    return {"reused": False, "seconds": round(time.perf_counter() - started, 1)}


def private_store_copy(store: Path, copy: Path, say: Callable[[str], None] = print) -> Path:
    """``copy``: a copy of the store for Chroma's client or server, which write into what they open (made once;
    remade when the source's seeding marker changed)."""
    import shutil

    from synthetic_store import MARKER

    if (copy / MARKER).is_file() and (copy / MARKER).read_text() == (store / MARKER).read_text():
        return copy
    shutil.rmtree(copy.parent, ignore_errors=True)
    say(f"copying {store.name} to {copy}")
    shutil.copytree(store, copy)
    return copy
