"""SIGKILL ``vectorops migrate`` at a chosen point, rerun it, and check what issue 7 promises.

A round: the source changes, ``vectorops migrate`` starts and is killed (at a fail point in the code, when the
database shows the HNSW build running, or after a random delay), then:

- the killed run's server sessions let go of the collection at once (no orphan statement holds its lock);
- the live table is exactly the previous version, and kept answering queries all along;
- the chunk ledger was never ahead of the committed rows (:mod:`tests.faults.ledger_watch`);
- a rerun succeeds first time (no task retries), and after it: live rows = source - quarantined, the
  quarantined ids are exactly the bad records, 0 duplicate ids, sha256 of the sorted records equals the
  source's, and no shadow table or invalid index is left.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.faults.kill_checks import after_kill, after_rerun, attempt_state, live_checksum
from tests.faults.kill_source import Source
from tests.faults.ledger_watch import LedgerWatch, Watch, wait_for
from tests.support import migrate_command
from vectorops.naming import table_name_for

#: point → fail point in the code (``None``: the harness kills from outside).
POINTS: dict[str, str | None] = {
    "stage_ids": "stage_ids",        # extract: a page of ids copied into staging, not committed
    "copy_batch": "copy_batch",      # mid-COPY of a chunk
    "chunk_commit": "chunk_commit",  # a chunk's rows and ledger row written, not committed
    "index_start": "index_build",    # the gate passed, CREATE INDEX about to start
    "index_build": None,             # while pg_stat_progress_create_index shows the HNSW build
    "promote": "promote",            # inside the promotion transaction, after the renames
    "random": None,                  # a random moment of the run
}
ID_PAGE = 50_000
RUN_TIMEOUT_S = 1800


@dataclass
class Workload:
    """What the harness migrates and how.

    :param env: environment of the ``vectorops migrate`` processes (Airflow's included).
    :param logs: directory for each run's output.
    """

    source: Source
    schema: str
    dsn: str
    env: dict[str, str]
    logs: Path
    chunk_rows: int
    batch_size: int = 1000

    @property
    def table(self) -> str:
        """The live table."""
        return table_name_for(self.source.name)


@dataclass
class Round:
    """One kill and its rerun."""

    no: int
    point: str
    spec: str = ""
    attempt: str | None = None
    killed: bool = False
    kill_s: float = 0.0
    at_kill: str = ""
    release_s: float = 0.0
    rerun_s: float = 0.0
    resumed: bool = False
    rows: int = 0
    quarantined: int = 0
    watch: Watch = field(default_factory=Watch)
    problems: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[str]:
        """The checks' problems, and what the watcher saw: the ledger ahead of the data, the live table failing."""
        return (self.problems + [f"ledger ahead of the data: {a}" for a in self.watch.ahead]
                + [f"live table: {e}" for e in self.watch.live_errors])

    @property
    def ok(self) -> bool:
        """Every check passed, and the watcher saw nothing wrong."""
        return self.killed and not self.findings

    def describe(self) -> str:
        """One line per round."""
        parity = "ok" if self.ok else "FAILED"
        line = (f"round {self.no:2}: kill {self.point:12} {self.spec:17} after {self.kill_s:6.1f}s "
                f"({self.at_kill}); lock released in {self.release_s:.1f}s; rerun {self.rerun_s:6.1f}s "
                f"{'resumed' if self.resumed else 'new attempt'}; parity {parity}: {self.rows} rows, "
                f"{self.quarantined} quarantined; ledger {self.watch.observations} observations, "
                f"{len(self.watch.ahead)} ahead; live answered {self.watch.live_answers}")
        return line + "".join(f"\n    PROBLEM: {p}" for p in self.findings)


def _start(work: Workload, name: str, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = work.logs / f"{name}.log"
    env = {**work.env, "VECTOROPS_CHUNK_ROWS": str(work.chunk_rows), "VECTOROPS_TASK_RETRIES": "0", **extra}
    with open(log, "wb") as out:
        proc = subprocess.Popen(migrate_command(work.source.path, work.schema, work.batch_size), env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _hit_number(work: Workload, failpoint: str, rng: random.Random) -> int:
    rows = work.source.count
    chunks = max(1, math.ceil(rows / work.chunk_rows))
    hits = {"stage_ids": math.ceil(rows / ID_PAGE), "chunk_commit": chunks,
            "copy_batch": chunks * math.ceil(min(rows, work.chunk_rows) / work.batch_size)}.get(failpoint, 1)
    return rng.randint(1, max(1, hits))


def _index_building(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute(
        """SELECT 1 FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.relid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relname LIKE %s
             AND p.phase IN ('building index: initializing', 'building index: loading tuples')""",
        (schema, table.replace("_", r"\_") + r"\_\_shadow\_%")).fetchone() is not None


def _attempt_started(conn: psycopg.Connection, collection: str, schema: str, since: float) -> bool:
    return conn.execute("""SELECT 1 FROM vectorops.migration_runs WHERE collection = %s AND target_schema = %s
                           AND started_at >= to_timestamp(%s) AND status IN ('scanning', 'loading')""",
                        (collection, schema, since)).fetchone() is not None


def _outside_moment(work: Workload, result: Round, proc: subprocess.Popen[bytes], rng: random.Random,
                    timing: dict[str, float], since: float) -> None:
    """Wait for the moment of an outside kill: the HNSW build, or a random delay into the attempt."""
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        if result.point == "index_build":
            seen = wait_for(lambda: proc.poll() is not None or _index_building(conn, work.schema, work.table),
                            RUN_TIMEOUT_S, 0.02)
            delay = rng.uniform(0, 0.5 * timing["index_s"])
            result.spec = f"build+{delay:.1f}s" if seen else "build never seen"
        else:
            wait_for(lambda: proc.poll() is not None or _attempt_started(
                conn, work.source.name, work.schema, since), RUN_TIMEOUT_S)
            # within 80% of a clean run's working time: a run can be faster than the clean one (measured once, maybe
            # under load), and a delay past its end kills nothing
            delay = rng.uniform(0, 0.8 * timing["work_s"])
            result.spec = f"+{delay:.1f}s"
    time.sleep(delay)


def kill_run(work: Workload, result: Round, rng: random.Random, timing: dict[str, float]) -> None:
    """Start a migration and kill it at ``result.point``; fill in how and when.

    :param timing: ``work_s`` and ``index_s`` of a clean run, to place outside kills.
    """
    failpoint = POINTS[result.point]
    extra = {}
    if failpoint:
        result.spec = f"{failpoint}:{_hit_number(work, failpoint, rng)}"
        extra["VECTOROPS_FAILPOINT"] = result.spec
    since = time.time()
    started = time.monotonic()
    proc, log = _start(work, f"round{result.no:02d}-killed", extra)
    with LedgerWatch(work.dsn, work.source.name, work.schema, work.table) as watch:
        try:
            if failpoint:
                proc.wait(RUN_TIMEOUT_S)
            else:
                _outside_moment(work, result, proc, rng, timing, since)
        finally:
            alive = proc.poll() is None
            _kill(proc)
    result.watch.merge(watch.watch)
    result.kill_s = time.monotonic() - started
    result.attempt, result.at_kill = attempt_state(work, since)
    output = log.read_text(errors="replace")
    if failpoint:
        result.killed = f"failpoint {result.spec} hit" in output
        if not result.killed:
            result.problems.append(f"fail point {result.spec} was never hit (exit {proc.returncode}); see {log}")
    else:
        result.killed = alive
        if not alive:
            result.problems.append(f"the run ended (exit {proc.returncode}) before it could be killed; see {log}")


def rerun(work: Workload, result: Round) -> None:
    """Run the migration again to completion, watched; it must succeed first time."""
    started = time.monotonic()
    proc, log = _start(work, f"round{result.no:02d}-rerun", {})
    with LedgerWatch(work.dsn, work.source.name, work.schema, work.table) as watch:
        try:
            proc.wait(RUN_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                _kill(proc)
    result.watch.merge(watch.watch)
    result.rerun_s = time.monotonic() - started
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        result.problems.append(f"the rerun exited {proc.returncode}; see {log}:\n{tail}")


def clean_run(work: Workload, name: str) -> dict[str, float]:
    """Migrate without faults; return ``work_s`` (the attempt's working time) and ``index_s``.

    :raises AssertionError: when it fails.
    """
    since = time.time()
    proc, log = _start(work, name, {})
    proc.wait(RUN_TIMEOUT_S)
    assert proc.returncode == 0, log.read_text(errors="replace")[-4000:]
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        row = conn.execute("""SELECT extract(epoch FROM finished_at - started_at), index_seconds
                              FROM vectorops.migration_runs WHERE collection = %s AND target_schema = %s
                                AND status = 'promoted' AND started_at >= to_timestamp(%s)""",
                           (work.source.name, work.schema, since)).fetchone()
    assert row is not None, f"no promoted attempt after {name}"
    return {"work_s": float(row[0]), "index_s": float(row[1] or 1.0)}


def play_round(work: Workload, no: int, point: str, rng: random.Random, timing: dict[str, float]) -> Round:
    """Change the source, kill a migration of it at ``point``, check, rerun, check parity."""
    result = Round(no, point)
    previous = live_checksum(work)
    work.source.mutate()
    kill_run(work, result, rng, timing)
    after_kill(work, result, previous)
    rerun(work, result)
    if not any(p.startswith("the rerun exited") for p in result.problems):
        after_rerun(work, result)
    return result


def play(work: Workload, points: list[str], seed: int, report: Any = print) -> list[Round]:
    """A first clean migration, then one round per point; ``report`` gets one line per round.

    :param points: kill points, names of :data:`POINTS`.
    """
    rng = random.Random(seed)
    timing = clean_run(work, "initial")
    report(f"initial migration: {work.source.count} rows in {timing['work_s']:.1f}s "
           f"(index {timing['index_s']:.1f}s)")
    rounds = []
    for no, point in enumerate(points, 1):
        rounds.append(play_round(work, no, point, rng, timing))
        report(rounds[-1].describe())
    return rounds
