"""Capacity past one machine (issue 25): the measured inputs of docs/scaling.md, on the benchmark's own server.

Three parts (``--parts chunk,hnsw,workers``), each on the embedded server of :mod:`isolation`:

* **chunk**: one ``migration.steps.load`` (``migration/chunk_load``: staged ids → Chroma's files → COPY) per chunk,
  as a migration runs it, at a few chunk sizes (``VECTOROPS_CHUNK_ROWS``) and dimensions, on the Gaussian
  stores of :mod:`synthetic_store` (``--chunk-store-rows`` each). Per chunk: wall time, this process's CPU (the
  worker side: fetch in the reader thread, checks, encoding, the COPY writer), the server's CPU (every process of
  the server, those that exited counted through the postmaster's reaped-children times), and the encoding share
  (:func:`workloads.phase_clock`). The store's fetch alone is timed by :func:`load_bench.read_batches`.
* **hnsw**: :func:`vectorops.load.indexing.build_index` as finalize calls it (through
  :func:`index_build_bench._build_vectorops`: m 16, ef_construction 100, its ``maintenance_work_mem`` estimate, one
  worker per core) on a logged table of embedding-shaped vectors, grown in place to each row count of
  ``--hnsw-cells``. Per build: seconds, server CPU seconds, the index's size, the WAL it wrote, and the server's
  memory sampled every 0.25 s (summed PSS of its processes, its private anonymous part, and the allocated bytes of
  the dynamic shared memory segments the parallel build keeps its graph in). Per dimension, pgvector's own graph
  size per row (:func:`index_build_bench.graph_bytes_per_row`). Fits: bytes/row = a + b·dims, and seconds =
  rows·log2(rows)·(c0 + c1·dims). One cell (``--hnsw-capped``) is built again with vectorops' memory cap at a
  quarter of its estimate, so that the graph outgrows ``maintenance_work_mem``.
* **workers**: a load generator of N processes (``--workers``), each with one prepared chunk (``--worker-chunk``
  rows of :func:`synthetic_store.batch_records`, encoded by :func:`vectorops.load.copy.encode_batch` beforehand)
  that it COPYs again and again, one transaction per chunk as a chunk load commits, into ONE fresh shadow table
  (:func:`vectorops.load.shadow.create_shadow`, UNLOGGED; with ``--partitions P``, one of P hash partitions) for
  ``--seconds``; aggregate rows/s, the server's and the clients' CPU, WAL bytes per row, the table's bytes per row,
  what the backends wait on (``pg_stat_activity``, every 50 ms); then the WAL of ``SET LOGGED`` per row once.

Builds and loads also record the machine's busy and I/O-wait cores and ``others_cores``: the cores neither this
process nor the server used, i.e. what else ran beside the measurement.

The model (:func:`capacity_model`) combines them: one server core's rows/s, one worker's, the workers at which
``--server-cores`` are saturated, and what 1M / 10M / 100M vectors of 384 and 1536 dimensions need.

    .venv/bin/python bench/scaling_bench.py [--quick] [--parts chunk,hnsw,workers] [--server-cores 16]
    .venv/bin/python bench/scaling_bench.py --report-only --server-cores 32 --disk-mb-s 2000   # the model again

Writes ``bench/scaling_results.json`` (``--quick``: ``bench/.cache/scaling_bench-quick.json``; ``--out``) and
prints the Markdown tables. The full run takes about 22 minutes on 2 cores, plus about 5 to seed the four
40,000-row Chroma stores the first time. The server must not be running beforehand (``--reuse-server`` to use it
anyway); it is stopped at the end. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import isolation

RESULTS = isolation.BENCH_DIR / "scaling_results.json"
QUICK_RESULTS = isolation.CACHE_DIR / "scaling_bench-quick.json"
PARTS = ("chunk", "hnsw", "workers")
SPACE = "cosine"
MEMORY_EVERY_S = 0.25
CAPPED_FRACTION = 0.25
APPLICATION = "vectorops-scaling-bench"  # the load generator's backends, as pg_stat_activity names them
PROJECTED_ROWS = (1_000_000, 10_000_000, 100_000_000)
PROJECTED_DIMS = (384, 1536)
FULL: dict[str, Any] = {"chunk_dims": "128,384,768,1536", "chunk_store_rows": 40_000, "chunk_sizes": "5000,20000,40000",
        "hnsw_cells": "384:25000,50000,100000,200000;1536:25000,50000,100000;128:50000;768:50000",
        "hnsw_capped": "384:50000", "worker_dims": "384,1536", "workers": "1,2,4,8", "seconds": 6.0, "runs": 2,
        "worker_chunk": 10_000, "partitions": "0"}
QUICK: dict[str, Any] = {"chunk_dims": "128,384", "chunk_store_rows": 3_000, "chunk_sizes": "1000,3000",
         "hnsw_cells": "128:2000,4000;384:2000,4000", "hnsw_capped": "384:4000", "worker_dims": "384", "workers": "1,2",
         "seconds": 2.0, "runs": 1, "worker_chunk": 2_000, "partitions": "0"}


def _say(message: str) -> None:
    print(f"[scaling-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_cells(text: str) -> dict[int, list[int]]:
    """``"384:25000,50000;1536:25000"`` → ``{384: [25000, 50000], 1536: [25000]}``: the HNSW builds to run.

    :param text: ``dims:rows,rows;dims:rows,...``.
    :raises ValueError: when a part has no ``:``.
    """
    cells: dict[int, list[int]] = {}
    for part in text.split(";"):
        if part.strip():
            dims, rows = part.split(":")
            cells.setdefault(int(dims), []).extend(_ints(rows))
    return {dims: sorted(set(rows)) for dims, rows in cells.items()}


class ServerTree:
    """The benchmark server's processes, read from ``/proc``: the postmaster and every process it started.

    :param pgdata: the server's data directory (its ``postmaster.pid`` names the postmaster).
    """

    def __init__(self, pgdata: Path) -> None:
        import psutil

        self.root = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))

    def _processes(self) -> list[Any]:
        return [*self.root.children(recursive=True), self.root]

    def cpu_seconds(self) -> float:
        """User and system CPU seconds of the server so far, its exited processes included.

        A backend that exits takes its CPU time with it; the postmaster reaps it, and its reaped-children times
        carry it on, so a difference of two readings is the server's CPU between them.
        """
        import psutil

        total = 0.0
        for proc in self.root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        times = self.root.cpu_times()
        return total + times.user + times.system + times.children_user + times.children_system

    def memory(self) -> dict[str, int]:
        """The server's memory now, in bytes: ``pss`` (every process's proportional set size, summed: shared pages
        counted once), ``anon`` (its private anonymous part: a serial HNSW build's graph) and ``dsm`` (allocated
        bytes of the ``/dev/shm`` segments its processes map: a parallel build's graph)."""
        pss = anon = 0
        segments: set[str] = set()
        for proc in self._processes():
            try:
                rollup = Path(f"/proc/{proc.pid}/smaps_rollup").read_text()
                maps = Path(f"/proc/{proc.pid}/maps").read_text()
            except OSError:
                continue
            for line in rollup.splitlines():
                key, _, value = line.partition(":")
                if key == "Pss":
                    pss += int(value.split()[0]) * 1024
                elif key == "Pss_Anon":
                    anon += int(value.split()[0]) * 1024
            segments.update(line.split(None, 5)[5].removesuffix(" (deleted)") for line in maps.splitlines()
                            if "/dev/shm/PostgreSQL." in line)
        dsm = 0
        for segment in segments:
            with contextlib.suppress(OSError):
                dsm += os.stat(segment).st_blocks * 512
        return {"pss": pss, "anon": anon, "dsm": dsm}


@contextlib.contextmanager
def _every(every_s: float, sample: Callable[[], None]) -> Iterator[None]:
    """Call ``sample`` every ``every_s`` seconds in a thread while the block runs."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every_s):
            sample()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextlib.contextmanager
def sampled_memory(tree: ServerTree, every_s: float = MEMORY_EVERY_S) -> Iterator[dict[str, dict[str, int]]]:
    """Sample :meth:`ServerTree.memory` every ``every_s`` seconds in a thread while the block runs.

    :return: a dict filled in when the block ends: ``before`` (the reading before it) and ``peak`` (the largest
        reading of each figure during it).
    """
    found: dict[str, dict[str, int]] = {"before": tree.memory()}
    peak = dict(found["before"])

    def sample() -> None:
        for key, value in tree.memory().items():
            peak[key] = max(peak[key], value)

    try:
        with _every(every_s, sample):
            yield found
    finally:
        found["peak"] = peak


@contextlib.contextmanager
def machine_cpu(tree: ServerTree) -> Iterator[dict[str, float]]:
    """The machine's cores while the block runs: busy, waiting on I/O, and busy with neither this process (its
    children included) nor the server (``others_cores``: what else ran beside the measurement).

    :return: a dict filled in when the block ends.
    """
    import psutil

    def own() -> float:
        me = psutil.Process()
        times = me.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        return total

    found: dict[str, float] = {}
    machine, ours, started = psutil.cpu_times(), own() + tree.cpu_seconds(), time.perf_counter()
    try:
        yield found
    finally:
        wall = max(time.perf_counter() - started, 1e-9)
        after = psutil.cpu_times()
        idle = (after.idle - machine.idle) / wall
        iowait = (getattr(after, "iowait", 0.0) - getattr(machine, "iowait", 0.0)) / wall
        busy = sum(after) / wall - sum(machine) / wall - idle - iowait
        found.update(machine_busy_cores=busy, iowait_cores=iowait,
                     others_cores=max(0.0, busy - (own() + tree.cpu_seconds() - ours) / wall))


@contextlib.contextmanager
def wait_events(dsn: str, application: str, every_s: float = 0.05) -> Iterator[dict[str, float]]:
    """What the backends of ``application`` wait on while the block runs (``pg_stat_activity``, sampled every
    ``every_s`` seconds in a thread), as shares of the backend samples; ``CPU`` where they wait on nothing.

    :return: a dict filled in when the block ends, the largest share first.
    """
    import psycopg

    counts: dict[str, int] = {}
    found: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        def sample() -> None:
            for kind, event in conn.execute("SELECT wait_event_type, wait_event FROM pg_stat_activity "
                                            "WHERE application_name = %s AND state = 'active'", (application,)):
                key = f"{kind}:{event}" if kind else "CPU"
                counts[key] = counts.get(key, 0) + 1

        try:
            with _every(every_s, sample):
                yield found
        finally:
            total = max(1, sum(counts.values()))
            found.update({key: n / total for key, n in sorted(counts.items(), key=lambda kv: -kv[1])})


def _wal_lsn(conn: Any) -> int:
    return int(conn.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()[0])


def prepared_rows(rng: Any, start: int, stop: int, dims: int, vectors_of: Any = None) -> Iterator[Any]:
    """Records ``start`` to ``stop`` of :func:`synthetic_store.batch_records` as the loader's
    :class:`vectorops.load.copy.Rows`, :data:`vectorops.load.copy.ENCODE_ROWS` at a time (every vector storable).

    :param rng: the generator the records are drawn with.
    :param vectors_of: :class:`synthetic_store.EmbeddingLikeVectors`, or ``None`` for Gaussian vectors.
    """
    from synthetic_store import batch_records

    from vectorops.load import copy

    for first in range(start, stop, copy.ENCODE_ROWS):
        last = min(stop, first + copy.ENCODE_ROWS)
        records = batch_records(rng, first, last, dims, vectors_of)
        count = last - first
        yield copy.Rows(records["ids"], records["embeddings"], [None] * count, records["documents"],
                        records["metadatas"], [None] * count, None)


# --- part 1: one chunk load as a migration runs it -------------------------------------------------------------


def _chunk_loads(settings: Any, store: Path, chunk_rows: int, tree: ServerTree, limit: int | None = None
                 ) -> list[dict[str, Any]]:
    """Prepare a migration of ``store`` with chunks of ``chunk_rows`` and load its chunks (the first ``limit``),
    each measured; the attempt is dropped afterwards."""
    import workloads
    from synthetic_store import COLLECTION

    from vectorops.migration import steps as migration_steps

    local = dataclasses.replace(settings, chunk_rows=chunk_rows)
    plan = migration_steps.prepare(local, workloads.migration_request(store, COLLECTION, local), COLLECTION,
                                   f"scaling-bench-{time.time_ns()}")
    loads = []
    try:
        with workloads.phase_clock() as clock:
            for chunk_no in plan.chunks[:limit]:
                encode_before = clock["encode_s"]
                own_before, server_before, started = time.process_time(), tree.cpu_seconds(), time.perf_counter()
                result = migration_steps.load(local, plan, chunk_no)
                wall = time.perf_counter() - started
                loads.append({"chunk": chunk_no, "rows": int(result["loaded"]), "wall_s": wall,
                              "worker_cpu_s": time.process_time() - own_before,
                              "server_cpu_s": tree.cpu_seconds() - server_before,
                              "encode_s": clock["encode_s"] - encode_before})
    finally:
        workloads.reset_schema(settings)
    return loads


def _fetch_only(store: Path) -> dict[str, float]:
    """CPU and wall seconds per row of reading every record as a chunk load reads it (the second of two reads)."""
    from load_bench import read_batches
    from synthetic_store import COLLECTION

    for _ in range(2):
        cpu, started = time.process_time(), time.perf_counter()
        rows = sum(len(batch.ids) for batch in read_batches(str(store), COLLECTION))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"rows": rows, "cpu_us_per_row": 1e6 * cpu / rows, "wall_us_per_row": 1e6 * wall / rows}


def chunk_part(settings: Any, dims_list: Sequence[int], store_rows: int, chunk_sizes: Sequence[int],
               tree: ServerTree) -> list[dict[str, Any]]:
    """Per dimension and chunk size: rows/s of the chunk loads and their worker and server CPU per row.

    :param settings: the benchmark's settings; its server runs.
    :param dims_list: the stores' dimensions.
    :param store_rows: rows of each store (seeded under ``bench/.cache`` when missing).
    :param chunk_sizes: ``VECTOROPS_CHUNK_ROWS`` values; each loads the whole store.
    :param tree: the server's processes.
    :return: one entry per dimension and chunk size, every chunk's figures in it.
    """
    import workloads
    from search_monitor_bench import _seed

    out = []
    workloads.reset_schema(settings)
    for dims in dims_list:
        with contextlib.redirect_stdout(sys.stderr):
            store = _seed(store_rows, dims, "gaussian")
        fetch = _fetch_only(store)
        _chunk_loads(settings, store, min(chunk_sizes), tree, limit=1)  # warm-up: first imports, the files cold
        for chunk_rows in chunk_sizes:
            loads = _chunk_loads(settings, store, chunk_rows, tree)
            rows = sum(x["rows"] for x in loads)
            wall = sum(x["wall_s"] for x in loads)
            entry = {"dims": dims, "chunk_rows": chunk_rows, "store_rows": store_rows, "chunks": len(loads),
                     "rows": rows, "rows_per_s": rows / wall,
                     "median_chunk_rows_per_s": statistics.median(x["rows"] / x["wall_s"] for x in loads),
                     "worker_cpu_us_per_row": 1e6 * sum(x["worker_cpu_s"] for x in loads) / rows,
                     "server_cpu_us_per_row": 1e6 * sum(x["server_cpu_s"] for x in loads) / rows,
                     "encode_us_per_row": 1e6 * sum(x["encode_s"] for x in loads) / rows,
                     "fetch_cpu_us_per_row": fetch["cpu_us_per_row"], "loads": loads}
            entry["worker_cores_per_server_core"] = entry["worker_cpu_us_per_row"] / entry["server_cpu_us_per_row"]
            out.append(entry)
            _say(f"chunk load {dims} dims, chunks of {chunk_rows:,}: {entry['rows_per_s']:,.0f} rows/s, worker "
                 f"{entry['worker_cpu_us_per_row']:.1f} µs/row, server {entry['server_cpu_us_per_row']:.1f} µs/row")
    return out


# --- part 2: the HNSW build against rows and dimensions ---------------------------------------------------------


def _fill(dsn: str, schema: str, table: str, dims: int, start: int, stop: int, rng: Any, vectors_of: Any) -> None:
    """Append records ``start`` to ``stop`` to ``schema.table`` with the loader's own COPY."""
    from vectorops.db.connect import connect
    from vectorops.load import copy

    step = 20_000
    with connect(dsn) as conn:
        for first in range(start, stop, step):
            copy.write_batches(conn, schema, table, [prepared_rows(rng, first, min(stop, first + step), dims,
                                                                   vectors_of)], copy.Tally())
            conn.commit()


def _build(settings: Any, dsn: str, schema: str, rows: int, dims: int, tree: ServerTree) -> dict[str, Any]:
    """One measured build of vectorops' HNSW index on ``schema``'s index_bench table of ``rows`` rows."""
    import index_build_bench as ib

    from vectorops.db.connect import connect
    from vectorops.load import indexing

    ib._reset(dsn, schema)
    shape = {"rows": rows, "dimensions": dims, "m": ib.DEFAULT_M, "ef_construction": ib.DEFAULT_EF_CONSTRUCTION}
    with connect(dsn, autocommit=True) as conn:
        wal_before = _wal_lsn(conn)
    cpu_before = tree.cpu_seconds()
    with sampled_memory(tree) as memory, machine_cpu(tree) as machine:
        build = ib._build_vectorops(dsn, settings, schema, SPACE, shape)
    cpu = tree.cpu_seconds() - cpu_before
    with connect(dsn, autocommit=True) as conn:
        wal = _wal_lsn(conn) - wal_before
    grew = {key: memory["peak"][key] - memory["before"][key] for key in memory["peak"]}
    return {"rows": rows, "dims": dims, "seconds": build["seconds"], "server_cpu_s": cpu,
            "index_bytes": build["index_bytes"], "index_bytes_per_row": build["index_bytes"] / rows,
            "wal_bytes": wal, "maintenance_work_mem_mb": build["maintenance_work_mem_mb"],
            "estimate_mb": indexing.estimate_hnsw_mb(rows, dims, ib.DEFAULT_M),
            "peak_server_mb": memory["peak"]["pss"] / 2**20, "server_grew_mb": grew["pss"] / 2**20,
            "anon_grew_mb": grew["anon"] / 2**20, "dsm_grew_mb": grew["dsm"] / 2**20,
            # PostgreSQL allocates a dynamic shared memory segment whole (posix_fallocate): a parallel build holds
            # all of maintenance_work_mem from its start, touched or not
            "build_memory_mb": (grew["anon"] + grew["dsm"]) / 2**20,
            "graph_exceeded_memory": build["graph_exceeded_memory"], "notices": build["notices"], **machine}


def hnsw_part(settings: Any, cells: dict[int, list[int]], tree: ServerTree,
              capped: tuple[int, int] | None = None) -> dict[str, Any]:
    """HNSW builds of each ``cells`` size, on one table per dimension grown to each row count in turn.

    :param settings: the benchmark's settings; its server runs.
    :param cells: row counts per dimension (:func:`parse_cells`).
    :param tree: the server's processes.
    :param capped: ``(dims, rows)`` of a cell built a second time with vectorops' memory cap
        (``max_maintenance_work_mem_mb``) at :data:`CAPPED_FRACTION` of its estimate: the graph outgrows it.
    :return: ``builds`` (one entry per build) and ``tables`` (per dimension: table bytes per row, pgvector's
        graph bytes per row).
    """
    import index_build_bench as ib
    import numpy as np
    import workloads
    from psycopg import sql
    from synthetic_store import SEED, EmbeddingLikeVectors

    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect
    from vectorops.load import shadow, unlogged

    dsn = bootstrap(settings)
    schema, table = workloads.SCHEMA, ib.COPY_TABLE
    target = sql.Identifier(schema, table)
    builds, tables = [], []
    for dims, row_counts in cells.items():
        workloads.reset_schema(settings)
        with connect(dsn) as conn:
            shadow.create_shadow(conn, schema, table, dims)
            conn.commit()
        rng, vectors_of, filled = np.random.default_rng(SEED), EmbeddingLikeVectors(dims), 0
        for rows in row_counts:
            ib._reset(dsn, schema)  # the last build's index would slow the COPY down and be rebuilt by SET LOGGED
            _fill(dsn, schema, table, dims, filled, rows, rng, vectors_of)
            filled = rows
            with connect(dsn, autocommit=True) as conn:
                unlogged.make_logged(conn, schema, table)  # as finalize does before it indexes
                conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(target))
                table_bytes = int(conn.execute("SELECT pg_table_size(%s::regclass)",
                                               (target.as_string(conn),)).fetchone()[0])
            build = _build(settings, dsn, schema, rows, dims, tree) | {"table_bytes_per_row": table_bytes / rows}
            builds.append(build)
            if capped == (dims, rows):
                cap = max(1, int(CAPPED_FRACTION * build["estimate_mb"]))
                builds.append(_build(dataclasses.replace(settings, max_maintenance_work_mem_mb=cap), dsn, schema,
                                     rows, dims, tree) | {"table_bytes_per_row": table_bytes / rows, "capped": True})
                _say(f"HNSW {rows:,} × {dims} capped at {cap} MB: {builds[-1]['seconds']:.1f} s, the graph outgrew "
                     f"it: {builds[-1]['graph_exceeded_memory']}")
            _say(f"HNSW {rows:,} × {dims}: {build['seconds']:.1f} s ({build['server_cpu_s']:.0f} CPU s), index "
                 f"{build['index_bytes'] / 2**20:.0f} MB, build memory {build['build_memory_mb']:.0f} MB (PSS "
                 f"+{build['server_grew_mb']:.0f} MB), maintenance_work_mem {build['maintenance_work_mem_mb']} MB")
        with connect(dsn, autocommit=True) as conn:
            graph = ib.graph_bytes_per_row(conn, schema, table, SPACE, ib.DEFAULT_M)
        tables.append({"dims": dims, "graph_bytes_per_row": graph,
                       "table_bytes_per_row": builds[-1]["table_bytes_per_row"]})
    workloads.reset_schema(settings)
    return {"builds": builds, "tables": tables, "m": ib.DEFAULT_M, "ef_construction": ib.DEFAULT_EF_CONSTRUCTION,
            "shape": "embedding"}


# --- part 3: N concurrent loading workers against one server ----------------------------------------------------


def _load_worker(dsn: str, schema: str, table: str, dims: int, chunk_rows: int, seed: int, seconds: float,
                 barrier: Any, results: Any) -> None:
    """One loading worker (a process): encode a chunk, wait for the others, COPY it again and again."""
    import numpy as np
    import psycopg
    from psycopg import sql

    from vectorops.db.sql_files import statement
    from vectorops.load import copy
    from vectorops.load.copy_encoder import COPY_HEADER, COPY_TRAILER

    tally = copy.Tally()
    encode_started = time.process_time()
    payloads = [copy.encode_batch(rows, tally)[0] or b"" for rows in
                prepared_rows(np.random.default_rng(seed), 0, chunk_rows, dims)]
    encode_cpu = time.process_time() - encode_started
    statement_sql = statement("load/copy_records", table=sql.Identifier(schema, table))
    with psycopg.connect(dsn, autocommit=True, application_name=APPLICATION) as conn:
        barrier.wait()
        cpu, started = time.process_time(), time.monotonic()
        deadline, chunks = started + seconds, 0
        while time.monotonic() < deadline:
            with conn.transaction():
                # as copy.write_batches does: a chunk's commit does not wait for its WAL to reach the disk
                conn.execute("SET LOCAL synchronous_commit = off")
                with conn.cursor().copy(statement_sql) as out:
                    out.write(COPY_HEADER)
                    for payload in payloads:
                        out.write(payload)
                    out.write(COPY_TRAILER)
            chunks += 1
        results.put({"rows": chunks * tally.loaded, "chunks": chunks, "started": started, "ended": time.monotonic(),
                     "cpu_s": time.process_time() - cpu, "encode_cpu_us_per_row": 1e6 * encode_cpu / tally.loaded})


def _load_table(conn: Any, schema: str, table: str, dims: int, partitions: int) -> None:
    """A fresh shadow table (:func:`vectorops.load.shadow.create_shadow`), or with ``partitions``, a table of the
    same columns hash-partitioned by id into that many UNLOGGED partitions (PostgreSQL 18 has no unlogged
    partitioned parent; the partitions hold the rows)."""
    from psycopg import sql

    from vectorops.load import shadow

    target = sql.Identifier(schema, table)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(target))
    if not partitions:
        shadow.create_shadow(conn, schema, table, dims)
        return
    template = f"{table}_template"
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, template)))
    shadow.create_shadow(conn, schema, template, dims)
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {}) PARTITION BY HASH (id)").format(
        target, sql.Identifier(schema, template)))
    for k in range(partitions):
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} PARTITION OF {} FOR VALUES WITH (MODULUS {}, REMAINDER {})")
                     .format(sql.Identifier(schema, f"{table}_p{k}"), target, sql.Literal(partitions),
                             sql.Literal(k)))
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, template)))


def _concurrent_load(dsn: str, schema: str, dims: int, workers: int, chunk_rows: int, seconds: float,
                     tree: ServerTree, logged_wal: bool, partitions: int = 0) -> dict[str, Any]:
    """``workers`` processes COPYing into one fresh shadow table (or one hash-partitioned into ``partitions``) for
    ``seconds``; the table is dropped after."""
    from psycopg import sql

    from vectorops.db.connect import connect
    from vectorops.load import unlogged

    table = f"scaling_load_{workers}"
    target = sql.Identifier(schema, table)
    with connect(dsn) as conn:
        _load_table(conn, schema, table, dims, partitions)
        conn.commit()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers + 1), context.Queue()
    procs = [context.Process(target=_load_worker, args=(dsn, schema, table, dims, chunk_rows, 1000 + k, seconds,
                                                          barrier, results)) for k in range(workers)]
    for proc in procs:
        proc.start()
    try:
        with connect(dsn, autocommit=True) as conn:
            wal_before = _wal_lsn(conn)
            cpu_before = tree.cpu_seconds()
            with machine_cpu(tree) as machine, wait_events(dsn, APPLICATION) as waits:
                barrier.wait(timeout=300)
                found = [results.get(timeout=600 + seconds) for _ in procs]
            server_cpu = tree.cpu_seconds() - cpu_before
            wal = _wal_lsn(conn) - wal_before
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    rows = sum(x["rows"] for x in found)
    wall = max(x["ended"] for x in found) - min(x["started"] for x in found)
    cores = os.cpu_count() or 1
    with connect(dsn, autocommit=True) as conn:
        counted = int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0])
        table_bytes = int(conn.execute("SELECT coalesce((SELECT sum(pg_table_size(relid)) FROM pg_partition_tree(t)), "
                                       "pg_table_size(t)) FROM CAST(%s AS regclass) AS t",
                                       (target.as_string(conn),)).fetchone()[0])
        logged: dict[str, Any] = {}
        if logged_wal and not partitions:
            before, started = _wal_lsn(conn), time.perf_counter()
            unlogged.make_logged(conn, schema, table)
            logged = {"set_logged_s": time.perf_counter() - started,
                      "set_logged_wal_bytes_per_row": (_wal_lsn(conn) - before) / counted}
        conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(target))
        conn.execute("CHECKPOINT")
    if counted != rows:
        raise RuntimeError(f"{workers} workers reported {rows} rows, the table holds {counted}")
    return {"dims": dims, "workers": workers, "partitions": partitions, "rows": rows, "wall_s": wall,
            "rows_per_s": rows / wall,
            "server_cpu_s": server_cpu, "server_cpu_share": server_cpu / (wall * cores),
            "server_cpu_us_per_row": 1e6 * server_cpu / rows,
            "client_cpu_share": sum(x["cpu_s"] for x in found) / (wall * cores),
            "client_send_cpu_us_per_row": 1e6 * sum(x["cpu_s"] for x in found) / rows,
            "client_encode_cpu_us_per_row": statistics.median(x["encode_cpu_us_per_row"] for x in found),
            "wal_bytes_per_row": wal / rows, "table_bytes_per_row": table_bytes / rows, **logged, **machine,
            "wait_events": waits}


def workers_part(settings: Any, dims_list: Sequence[int], worker_counts: Sequence[int], chunk_rows: int,
                 seconds: float, runs: int, tree: ServerTree, partitions: Sequence[int] = (0,)) -> list[dict[str, Any]]:
    """Aggregate load rate of 1..N concurrent workers into one table on one server, ``runs`` times each, the order
    of the worker counts reversed every other run.

    :param partitions: per value, the loads run into a table of that many hash partitions (0: a plain table).
    :return: one entry per dimension, partitioning, run and worker count.
    """
    import workloads

    from vectorops.db.bootstrap import bootstrap

    dsn = bootstrap(settings)
    workloads.reset_schema(settings)
    out = []
    for dims in dims_list:
        for run in range(runs):
            for parts, workers in [(p, w) for p in partitions
                                   for w in (worker_counts if run % 2 == 0 else list(reversed(worker_counts)))]:
                found = _concurrent_load(dsn, workloads.SCHEMA, dims, workers, chunk_rows, seconds, tree,
                                         logged_wal=run == 0 and workers == min(worker_counts), partitions=parts)
                out.append(found | {"run": run})
                _say(f"{workers} worker(s) × {dims} dims, {parts or 'no'} partitions: {found['rows_per_s']:,.0f} "
                     f"rows/s, server CPU "
                     f"{100 * found['server_cpu_share']:.0f}% of the machine, {found['server_cpu_us_per_row']:.1f} "
                     f"µs/row, WAL {found['wal_bytes_per_row']:.0f} B/row")
    workloads.reset_schema(settings)
    return out


# --- the model --------------------------------------------------------------------------------------------------


def linear_fit(xs: Sequence[Sequence[float]], ys: Sequence[float]) -> dict[str, Any]:
    """Least squares ``y ≈ Σ coef_i · x_i`` (no intercept: put a column of ones in ``xs`` for one).

    :return: ``coef``, ``r2`` and the largest relative error of a fitted point (``max_rel_err``).
    """
    import numpy as np

    a, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    fitted = a @ coef
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / total if total > 0 else 1.0
    return {"coef": [float(c) for c in coef], "r2": r2,
            "max_rel_err": float(np.max(np.abs(fitted - y) / np.abs(y))) if len(y) else 0.0}


def _per_dims(found: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """``key`` (bytes per row) ≈ a + b·dims over ``found``."""
    usable = [x for x in found if x.get(key)]
    fit = linear_fit([[1.0, x["dims"]] for x in usable], [x[key] for x in usable])
    return fit | {"form": f"{key} = a + b·dims", "a": fit["coef"][0], "b": fit["coef"][1], "points": len(usable)}


def _build_fit(builds: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """``key`` (seconds) ≈ rows·log2(rows)·(c0 + c1·dims) over ``builds``."""
    xs = [[b["rows"] * math.log2(b["rows"]), b["rows"] * math.log2(b["rows"]) * b["dims"]] for b in builds]
    fit = linear_fit(xs, [b[key] for b in builds])
    return fit | {"form": f"{key} = rows·log2(rows)·(c0 + c1·dims)", "c0": fit["coef"][0], "c1": fit["coef"][1],
                  "points": len(builds)}


def _at(fit: dict[str, Any], dims: int) -> float:
    return float(fit["a"] + fit["b"] * dims)


def _build_at(fit: dict[str, Any], rows: int, dims: int) -> float:
    return float(rows * math.log2(rows) * (fit["c0"] + fit["c1"] * dims))


def _interpolated(points: dict[int, float], dims: int) -> float:
    """A per-row cost at ``dims``: linear in the dimensions through the measured points (least squares)."""
    fit = linear_fit([[1.0, d] for d in points], list(points.values()))
    return float(fit["coef"][0] + fit["coef"][1] * dims)


def capacity_model(chunk: Sequence[dict[str, Any]], hnsw: dict[str, Any] | None, workers: Sequence[dict[str, Any]],
                   server_cores: int, disk_mb_s: float) -> dict[str, Any]:
    """Fits and projections from the measured figures (docs/scaling.md explains each).

    :param chunk: :func:`chunk_part`'s entries.
    :param hnsw: :func:`hnsw_part`'s result.
    :param workers: :func:`workers_part`'s entries.
    :param server_cores: the cores of the server the projection assumes.
    :param disk_mb_s: the write throughput of its disk the projection assumes (MB/s).
    :return: per-row costs by dimension, the fits, the saturation estimate and the projections.
    """
    model: dict[str, Any] = {"server_cores": server_cores, "disk_mb_s": disk_mb_s, "assumptions": [
        f"a server of {server_cores} cores runs {server_cores} COPY backends, each at the per-row server CPU "
        "measured at the most concurrent workers (what contention adds is kept)",
        f"its disk writes {disk_mb_s:,.0f} MB/s; a load writes each row's table bytes once (UNLOGGED: no WAL)",
        "each worker has a core of its own (a separate Airflow worker slot); fetch and encoding overlap its COPY",
        "HNSW build CPU-seconds scale as rows·log2(rows), linear in dimensions, spread over the build's processes "
        "(one leader + max_parallel_maintenance_workers, at most 8 with vectorops' cap of 7 workers)",
        "the graph fits in maintenance_work_mem; beyond it pgvector's on-disk phase is slower (not modelled)",
    ]}
    if hnsw and hnsw["builds"]:
        builds = [b for b in hnsw["builds"] if not b.get("capped")]
        model["fits"] = {"index_bytes_per_row": _per_dims(builds, "index_bytes_per_row"),
                         "table_bytes_per_row": _per_dims(builds, "table_bytes_per_row"),
                         "graph_bytes_per_row": _per_dims(hnsw["tables"], "graph_bytes_per_row"),
                         "build_memory_bytes_per_row": _per_dims(
                             [b | {"build_memory_bytes_per_row": b["build_memory_mb"] * 2**20 / b["rows"]}
                              for b in builds if b["rows"] == max(x["rows"] for x in builds if x["dims"] == b["dims"])],
                             "build_memory_bytes_per_row"),
                         "build_seconds": _build_fit(builds, "seconds"),
                         "build_cpu_seconds": _build_fit(builds, "server_cpu_s")}
    largest: dict[int, dict[str, Any]] = {}
    for entry in chunk:
        if entry["chunk_rows"] >= largest.get(entry["dims"], {}).get("chunk_rows", 0):
            largest[entry["dims"]] = entry
    if workers:
        model["scaling"] = _scaling(workers)
        logged = [x for x in workers if "set_logged_wal_bytes_per_row" in x]
        model["set_logged"] = [{"dims": x["dims"], "rows": x["rows"], "seconds": x["set_logged_s"],
                                "wal_bytes_per_row": x["set_logged_wal_bytes_per_row"]} for x in logged]
    if largest and workers:
        model["saturation"] = _saturation(model, largest, server_cores, disk_mb_s)
    if "fits" in model:
        model["projections"] = _projections(model, server_cores)
    return model


def _scaling(workers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dimension, partitioning and worker count, the medians over the runs and the rate against the fewest
    workers' into a plain table of the same dimension."""
    def key(x: dict[str, Any]) -> tuple[int, int, int]:
        return x["dims"], x.get("partitions", 0), x["workers"]

    keys = sorted({key(w) for w in workers})
    out = []
    for dims, parts, count in keys:
        found = [x for x in workers if key(x) == (dims, parts, count)]
        base = min((k for k in keys if k[0] == dims), key=lambda k: (k[1], k[2]))
        one = statistics.median(x["rows_per_s"] for x in workers if key(x) == base)
        rate = statistics.median(x["rows_per_s"] for x in found)
        out.append({"dims": dims, "partitions": parts, "workers": count, "rows_per_s": rate, "ratio_to_1": rate / one,
                    **{name: statistics.median(x[name] for x in found)
                       for name in ("server_cpu_share", "client_cpu_share", "server_cpu_us_per_row",
                                    "wal_bytes_per_row", "table_bytes_per_row")},
                    "lock_extend_share": statistics.median(x["wait_events"].get("Lock:extend", 0.0) for x in found)
                    if all("wait_events" in x for x in found) else None})
    return out


def _saturation(model: dict[str, Any], largest: dict[int, dict[str, Any]], server_cores: int,
                disk_mb_s: float) -> list[dict[str, Any]]:
    """The workers one server of ``server_cores`` keeps busy, per dimension: its CPU-bound and disk-bound rows/s
    over the rows/s one worker delivers."""
    scaling = [s for s in model["scaling"] if not s["partitions"]]
    # the server's CPU per row at the most workers over that at the fewest: what contention adds
    inflations = {}
    for dims in {s["dims"] for s in scaling}:
        mine = [s for s in scaling if s["dims"] == dims]
        inflations[dims] = mine[-1]["server_cpu_us_per_row"] / mine[0]["server_cpu_us_per_row"]
    out = []
    for dims in sorted(set(PROJECTED_DIMS) | set(largest)):
        measured = largest.get(dims)
        w_us = (measured["worker_cpu_us_per_row"] if measured else
                _interpolated({d: e["worker_cpu_us_per_row"] for d, e in largest.items()}, dims))
        s_us = (measured["server_cpu_us_per_row"] if measured else
                _interpolated({d: e["server_cpu_us_per_row"] for d, e in largest.items()}, dims))
        inflation = inflations.get(dims, statistics.median(inflations.values()))
        written = (_at(model["fits"]["table_bytes_per_row"], dims) if "fits" in model else
                   _interpolated({s["dims"]: s["table_bytes_per_row"] for s in scaling}, dims))
        written += _interpolated({s["dims"]: s["wal_bytes_per_row"] for s in scaling}, dims)
        worker_rate = 1e6 / max(w_us, s_us)
        cpu_rate = server_cores * 1e6 / (s_us * inflation)
        disk_rate = disk_mb_s * 1e6 / written
        server_rate = min(cpu_rate, disk_rate)
        out.append({"dims": dims, "worker_cpu_us_per_row": w_us, "server_cpu_us_per_row": s_us,
                    "contention_inflation": inflation, "one_worker_rows_per_s": worker_rate,
                    "bytes_written_per_row": written, "cpu_bound_rows_per_s": cpu_rate,
                    "disk_bound_rows_per_s": disk_rate, "server_rows_per_s": server_rate,
                    "limited_by": "CPU" if cpu_rate <= disk_rate else "disk",
                    "disk_mb_s_at_cpu_bound": cpu_rate * written / 1e6,
                    "workers_at_cpu_saturation": cpu_rate / worker_rate,
                    "workers_at_saturation": server_rate / worker_rate, "interpolated": dims not in largest})
    return out


def _projections(model: dict[str, Any], server_cores: int) -> list[dict[str, Any]]:
    """What 1M / 10M / 100M vectors of 384 and 1536 dimensions need, from the fits."""
    from vectorops.load.indexing import estimate_hnsw_mb

    fits = model["fits"]
    build_processes = min(8, server_cores)
    out = []
    for dims in PROJECTED_DIMS:
        sat = next((s for s in model.get("saturation", []) if s["dims"] == dims), None)
        logged = [s for s in model.get("set_logged", []) if s["dims"] == dims]
        wal_logged = [s["wal_bytes_per_row"] for s in logged]
        for rows in PROJECTED_ROWS:
            table_gb = rows * _at(fits["table_bytes_per_row"], dims) / 1e9
            index_gb = rows * _at(fits["index_bytes_per_row"], dims) / 1e9
            graph_gb = rows * _at(fits["graph_bytes_per_row"], dims) / 1e9
            build_cpu_h = _build_at(fits["build_cpu_seconds"], rows, dims) / 3600
            entry = {"rows": rows, "dims": dims, "table_gb": table_gb, "index_gb": index_gb, "graph_gb": graph_gb,
                     "vectorops_estimate_gb": estimate_hnsw_mb(rows, dims, 16) * 2**20 / 1e9,
                     "build_cpu_hours": build_cpu_h, "build_hours": build_cpu_h / build_processes,
                     "build_processes": build_processes,
                     # SET LOGGED writes the table into the WAL, the build its index
                     "wal_gb": (rows * wal_logged[0] / 1e9 if wal_logged else table_gb) + index_gb}
            if logged:  # one statement per table, one backend: its measured rate, whatever the cores
                entry["set_logged_minutes"] = rows * logged[0]["seconds"] / logged[0]["rows"] / 60
            if sat:
                entry |= {"load_server_core_hours": rows * sat["server_cpu_us_per_row"] / 1e6 / 3600,
                          "load_minutes_at_saturation": rows / sat["server_rows_per_s"] / 60,
                          "workers": math.ceil(sat["workers_at_saturation"])}
            out.append(entry)
    return out


# --- the report -------------------------------------------------------------------------------------------------


Column = tuple[str, Callable[[dict[str, Any]], str]]


def _field(key: str, spec: str = "", scale: float = 1.0, default: Any = None) -> Callable[[dict[str, Any]], str]:
    """A cell: ``row[key]`` (``default`` when missing) times ``scale``, formatted with ``spec``."""
    def cell(row: dict[str, Any]) -> str:
        value = row.get(key, default)
        return format(value * scale if scale != 1.0 else value, spec)
    return cell


DIMS: Column = ("dims", _field("dims"))


def _cores(found: dict[str, Any], key: str) -> str:
    return f"{found[key]:.2f}" if key in found else "not measured"


def _table(title: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> list[str]:
    """A Markdown table under ``### title``: one header per column, each cell ``cell(row)``."""
    return [f"### {title}", "", "| " + " | ".join(header for header, _ in columns) + " |",
            "|" + "---|" * len(columns), *("| " + " | ".join(cell(row) for _, cell in columns) + " |" for row in rows),
            ""]


CHUNK_COLUMNS: list[Column] = [
    DIMS, ("chunk rows", _field("chunk_rows", ",")),
    ("chunks", _field("chunks")), ("rows/s", _field("rows_per_s", ",.0f")),
    ("worker CPU µs/row", _field("worker_cpu_us_per_row", ".1f")),
    ("of which encode", _field("encode_us_per_row", ".1f")),
    ("fetch alone", _field("fetch_cpu_us_per_row", ".1f")),
    ("server CPU µs/row", _field("server_cpu_us_per_row", ".1f")),
    ("worker cores per server core", _field("worker_cores_per_server_core", ".2f"))]
BUILD_COLUMNS: list[Column] = [
    ("rows", lambda b: f"{b['rows']:,}{' (capped)' if b.get('capped') else ''}"), DIMS,
    ("seconds", _field("seconds", ".1f")), ("server CPU s", _field("server_cpu_s", ".0f")),
    ("index MB", _field("index_bytes", ".0f", 1 / 2**20)),
    ("index B/row", _field("index_bytes_per_row", ",.0f")),
    ("table B/row", _field("table_bytes_per_row", ",.0f")),
    ("WAL MB", _field("wal_bytes", ".0f", 1 / 2**20)),
    ("maintenance_work_mem MB", _field("maintenance_work_mem_mb")),
    ("build memory MB (private + DSM)", _field("build_memory_mb", ".0f")),
    ("PSS +MB", _field("server_grew_mb", ".0f")),
    ("graph outgrew memory", lambda b: "yes" if b["graph_exceeded_memory"] else "no"),
    ("others' cores", lambda b: _cores(b, "others_cores"))]
GRAPH_COLUMNS: list[Column] = [
    DIMS,
    ("pgvector graph B/row (its NOTICE on a 4,000-row sample)",
     lambda t: f"{t['graph_bytes_per_row']:,.0f}" if t["graph_bytes_per_row"] else "fit in the sample")]
WORKER_COLUMNS: list[Column] = [
    DIMS, ("workers", _field("workers")),
    ("partitions", lambda w: f"{w.get('partitions') or 'none'}"), ("run", lambda w: f"{w['run'] + 1}"),
    ("rows/s", _field("rows_per_s", ",.0f")),
    ("server CPU % of machine", _field("server_cpu_share", ".0f", 100)),
    ("clients CPU %", _field("client_cpu_share", ".0f", 100)),
    ("server µs/row", _field("server_cpu_us_per_row", ".1f")),
    ("WAL B/row", _field("wal_bytes_per_row", ".1f")),
    ("table B/row", _field("table_bytes_per_row", ",.0f")),
    ("others' cores", lambda w: _cores(w, "others_cores")), ("I/O wait cores", lambda w: _cores(w, "iowait_cores")),
    ("backends' waits",
     lambda w: ", ".join(f"{k} {100 * v:.0f}%" for k, v in list(w.get("wait_events", {}).items())[:3]))]
SCALING_COLUMNS: list[Column] = [
    DIMS, ("partitions", lambda s: f"{s['partitions'] or 'none'}"),
    ("workers", _field("workers")), ("rows/s", _field("rows_per_s", ",.0f")),
    ("÷ 1 worker, plain table", lambda s: f"{s['ratio_to_1']:.2f}×"),
    ("server CPU %", _field("server_cpu_share", ".0f", 100)),
    ("server µs/row", _field("server_cpu_us_per_row", ".1f")),
    ("waiting on Lock:extend",
     lambda s: "not measured" if s["lock_extend_share"] is None else f"{100 * s['lock_extend_share']:.0f}%")]
SATURATION_COLUMNS: list[Column] = [
    ("dims", lambda s: f"{s['dims']}{' (interpolated)' if s['interpolated'] else ''}"),
    ("worker µs/row", _field("worker_cpu_us_per_row", ".1f")),
    ("server µs/row × contention", lambda s: f"{s['server_cpu_us_per_row']:.1f} × {s['contention_inflation']:.2f}"),
    ("one worker rows/s", _field("one_worker_rows_per_s", ",.0f")),
    ("server rows/s, CPU-bound", _field("cpu_bound_rows_per_s", ",.0f")),
    ("disk MB/s that needs", _field("disk_mb_s_at_cpu_bound", ",.0f")),
    ("server rows/s, disk-bound", _field("disk_bound_rows_per_s", ",.0f")),
    ("workers (CPU)", _field("workers_at_cpu_saturation", ".1f")),
    ("workers", _field("workers_at_saturation", ".1f"))]
FIT_COLUMNS: list[Column] = [
    ("figure", lambda f: f["name"]), ("form", lambda f: f["form"]),
    ("coefficients", lambda f: ", ".join(f"{c:.4g}" for c in f["coef"])), ("R²", _field("r2", ".4f")),
    ("largest error", lambda f: f"{100 * f['max_rel_err']:.1f}%")]
PROJECTION_COLUMNS: list[Column] = [
    ("rows", _field("rows", ",")), DIMS,
    ("table GB", _field("table_gb", ",.1f")), ("index GB", _field("index_gb", ",.1f")),
    ("graph GB (pgvector)", _field("graph_gb", ",.1f")),
    ("vectorops' estimate GB", _field("vectorops_estimate_gb", ",.1f")),
    ("build CPU h", _field("build_cpu_hours", ",.1f")), ("build h", _field("build_hours", ",.1f")),
    ("WAL GB", _field("wal_gb", ",.1f")),
    ("load server core-h", _field("load_server_core_hours", ",.2f", default=0)),
    ("workers", _field("workers", default="")),
    ("load min at saturation", _field("load_minutes_at_saturation", ",.1f", default=0)),
    ("SET LOGGED min", _field("set_logged_minutes", ",.1f", default=0))]


def markdown(document: dict[str, Any]) -> str:
    """The Markdown tables of a result document."""
    machine, model = document["machine"], document.get("model", {})
    lines = [f"## Capacity inputs ({machine['cores']} cores, {machine['ram_gib']} GiB, PostgreSQL "
             f"{machine['postgres']}, pgvector {machine['pgvector']}, wal_level {document['server']['wal_level']})", ""]
    if document.get("chunk"):
        lines += _table("One chunk load (migration.steps.load)", CHUNK_COLUMNS, document["chunk"])
    if document.get("hnsw"):
        lines += _table("HNSW build (vectorops' build_index, m 16, ef_construction 100)", BUILD_COLUMNS,
                        document["hnsw"]["builds"])
        lines += _table("pgvector's graph per row", GRAPH_COLUMNS, document["hnsw"]["tables"])
    if document.get("workers"):
        lines += _table("Concurrent loading workers into one table on one server (runs)", WORKER_COLUMNS,
                        document["workers"])
    if model.get("scaling"):
        lines += _table("Aggregate rows/s against the fewest workers (medians)", SCALING_COLUMNS, model["scaling"])
    if model.get("saturation"):
        lines += _table(f"Workers at which a {model['server_cores']}-core server saturates (disk "
                        f"{model['disk_mb_s']:,.0f} MB/s)", SATURATION_COLUMNS, model["saturation"])
    lines += [f"SET LOGGED of the loaded table ({x['rows']:,} × {x['dims']}): {x['seconds']:.1f} s, "
              f"{x['wal_bytes_per_row']:,.0f} WAL bytes/row\n" for x in model.get("set_logged", [])]
    if model.get("fits"):
        lines += _table("Fits", FIT_COLUMNS, [fit | {"name": name} for name, fit in model["fits"].items()])
        lines += _table(f"Projections (a {model['server_cores']}-core server)", PROJECTION_COLUMNS,
                        model["projections"])
    return "\n".join(lines)


def _server_facts(settings: Any) -> dict[str, Any]:
    from psycopg import sql

    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect

    with connect(bootstrap(settings), autocommit=True) as conn:
        return {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0] for name in
                ("wal_level", "shared_buffers", "max_parallel_maintenance_workers", "max_wal_size")}


def _git_head() -> str:
    import subprocess

    found = subprocess.run(["git", "-C", str(isolation.PROJECT_DIR), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python bench/scaling_bench.py``; writes the JSON and prints the Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under a minute (a smoke test)")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of chunk,hnsw,workers")
    parser.add_argument("--chunk-dims", help=f"dimensions of the chunk loads (default {FULL['chunk_dims']})")
    parser.add_argument("--chunk-store-rows", type=int, help=f"rows per store (default {FULL['chunk_store_rows']})")
    parser.add_argument("--chunk-sizes", help=f"VECTOROPS_CHUNK_ROWS values (default {FULL['chunk_sizes']})")
    parser.add_argument("--hnsw-cells", help=f"dims:rows,rows;... (default {FULL['hnsw_cells']})")
    parser.add_argument("--hnsw-capped", help=f"dims:rows of a cell built again with the memory cap at "
                        f"{CAPPED_FRACTION:g} of the estimate ('' for none; default {FULL['hnsw_capped']})")
    parser.add_argument("--worker-dims", help=f"dimensions of the load generator (default {FULL['worker_dims']})")
    parser.add_argument("--workers", help=f"concurrent workers (default {FULL['workers']})")
    parser.add_argument("--seconds", type=float, help=f"seconds per load (default {FULL['seconds']})")
    parser.add_argument("--runs", type=int, help=f"runs of each worker count (default {FULL['runs']})")
    parser.add_argument("--partitions", help="hash partitions of the load generator's table, 0 for a plain table "
                        f"(default {FULL['partitions']})")
    parser.add_argument("--worker-chunk", type=int, help=f"rows per COPY transaction (default {FULL['worker_chunk']})")
    parser.add_argument("--server-cores", type=int, default=16, help="the server the model sizes (default 16)")
    parser.add_argument("--disk-mb-s", type=float, default=1000.0,
                        help="that server's disk write throughput the model assumes, MB/s (default 1000)")
    parser.add_argument("--out", type=Path, help=f"the JSON (default {RESULTS.relative_to(isolation.PROJECT_DIR)})")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: recompute the model of the --out JSON (e.g. with other --server-cores "
                             "or --disk-mb-s), rewrite it and print the tables")
    parser.add_argument("--reuse-server", action="store_true",
                        help="use the benchmark's server although it already runs (and leave it running)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    opt = {key: getattr(args, key) if getattr(args, key) is not None else value for key, value in sizes.items()}
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not set(parts) <= set(PARTS):
        parser.error(f"--parts: choose from {', '.join(PARTS)}")
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    isolation.isolate()
    if args.report_only:
        document = json.loads(out.read_text())
        document["model"] = capacity_model(document.get("chunk", []), document.get("hnsw"),
                                           document.get("workers", []), args.server_cores, args.disk_mb_s)
        out.write_text(json.dumps(document, indent=1) + "\n")
        print(markdown(document))
        return 0
    from run_bench import _machine

    from vectorops.config import load_settings
    from vectorops.db import runtime

    settings = load_settings()
    was_running = runtime.running_port(settings.pgdata) is not None
    if was_running and not args.reuse_server:
        raise SystemExit(f"the benchmark's server already runs ({settings.pgdata}); it would share the CPU this "
                         "measures. Stop it (VECTOROPS_HOME=bench/.cache/home vectorops db down) or pass "
                         "--reuse-server")
    started, load_at_start = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
    document: dict[str, Any] = {"command": " ".join(["bench/scaling_bench.py", *(argv or sys.argv[1:])]),
                                "code": _git_head(), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "options": opt, "parts": parts, "load_average_at_start": load_at_start}
    try:
        runtime.start(settings)
        tree = ServerTree(settings.pgdata)
        document |= {"machine": _machine(settings), "server": _server_facts(settings)}
        seconds: dict[str, float] = {}
        if "chunk" in parts:
            clock = time.perf_counter()
            document["chunk"] = chunk_part(settings, _ints(opt["chunk_dims"]), opt["chunk_store_rows"],
                                           _ints(opt["chunk_sizes"]), tree)
            seconds["chunk"] = time.perf_counter() - clock
        if "hnsw" in parts:
            clock = time.perf_counter()
            capped = parse_cells(opt["hnsw_capped"])
            document["hnsw"] = hnsw_part(settings, parse_cells(opt["hnsw_cells"]), tree,
                                         next(((d, r[0]) for d, r in capped.items() if r), None))
            seconds["hnsw"] = time.perf_counter() - clock
        if "workers" in parts:
            clock = time.perf_counter()
            document["workers"] = workers_part(settings, _ints(opt["worker_dims"]), _ints(opt["workers"]),
                                               opt["worker_chunk"], opt["seconds"], opt["runs"], tree,
                                               _ints(opt["partitions"]))
            seconds["workers"] = time.perf_counter() - clock
        document["seconds_by_part"] = {k: round(v, 1) for k, v in seconds.items()}
    finally:
        if not was_running:
            runtime.stop(settings)
    document["model"] = capacity_model(document.get("chunk", []), document.get("hnsw"), document.get("workers", []),
                                       args.server_cores, args.disk_mb_s)
    document |= {"elapsed_s": round(time.perf_counter() - started, 1),
                 "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                 "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1) + "\n")
    print(markdown(document))
    print(f"\nfigures: {out}; {document['elapsed_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
