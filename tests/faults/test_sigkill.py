"""SIGKILL a real ``vectorops migrate`` at chosen points, rerun it, and check parity: CI's 3 kills of ``make chaos``.

The harness (:mod:`tests.faults.kill_harness`) is the one ``make chaos`` runs 20 times on 100,000 rows; here it
runs 3 rounds on 12,000 rows to stay near two minutes. Each round changes the source, kills the migration
between a chunk's COPY and its commit, in the middle of the HNSW build, or inside the promotion transaction,
and reruns it. Then: live rows = source - quarantined, 0 duplicate ids, sha256 over the sorted records equal
to the source's, the previous live table untouched until promotion, and the ledger never ahead of the data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.faults import kill_harness
from tests.faults.kill_source import Source
from tests.faults.ledger_watch import Watch, observe, wait_for
from tests.support import add_records, chroma_client, forget_collection, forget_schema
from vectorops.migration import steps
from vectorops.migration.request import request_from_params

ROWS = 12_000
COLLECTION = "sigkill-me"
SCHEMA = "sigkill"


@pytest.fixture
def workload(tmp_path: Path, dsn: str, airflow_db: dict[str, str]) -> Iterator[kill_harness.Workload]:
    source = Source.build(tmp_path / "chroma", COLLECTION, ROWS)
    (tmp_path / "logs").mkdir()
    yield kill_harness.Workload(source=source, schema=SCHEMA, dsn=dsn, env={**os.environ, **airflow_db},
                                logs=tmp_path / "logs", chunk_rows=ROWS // 6)
    forget_collection(dsn, COLLECTION, SCHEMA)
    forget_schema(dsn, SCHEMA)


@pytest.mark.slow
def test_killed_at_commit_index_build_and_promotion_each_rerun_reaches_exact_parity(
        workload: kill_harness.Workload) -> None:
    rounds = kill_harness.play(workload, ["chunk_commit", "index_build", "promote"], seed=7)
    report = "\n".join(r.describe() for r in rounds)
    print(report)
    assert all(r.ok for r in rounds), report
    assert all(r.resumed for r in rounds), f"a rerun started over instead of resuming:\n{report}"
    assert all(r.watch.observations and r.watch.live_answers for r in rounds), report
    assert rounds[1].spec.startswith("build+"), f"the index build was never seen running:\n{report}"


CHILD = """
import sys
from vectorops.db.connect import connect
from vectorops.load import indexing
from vectorops.migration import claims
dsn, schema, table = sys.argv[1:]
with connect(dsn, autocommit=True) as conn, claims.holding_live_lock(conn, "sigkill-build"):
    indexing.build_index(conn, indexing.IndexSpec(schema=schema, table=table, index_name=table + "_hnsw", space="l2",
                                                dimensions=32, rows=20000, m=16, ef_construction=400, cap_mb=256))
"""


@pytest.fixture
def slow_table(dsn: str) -> Iterator[tuple[str, str]]:
    """20,000 random 32-d rows: an HNSW build with ef_construction 400 takes many seconds."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA sigkill_build")
        conn.execute("CREATE TABLE sigkill_build.t (id text PRIMARY KEY, embedding vector(32))")
        conn.execute("""INSERT INTO sigkill_build.t SELECT i::text, ARRAY(SELECT random() + i * 0
                        FROM generate_series(1, 32))::vector FROM generate_series(1, 20000) i""")
    yield "sigkill_build", "t"
    forget_schema(dsn, "sigkill_build")


def test_a_killed_clients_index_build_stops_with_it_and_frees_the_collection(
        dsn: str, slow_table: tuple[str, str]) -> None:
    """Without ``client_connection_check_interval`` the server finishes the whole build for a dead client, and
    its live lock keeps every rerun out ("being migrated by run X") until then."""
    schema, table = slow_table
    child = subprocess.Popen([sys.executable, "-c", CHILD, dsn, schema, table], start_new_session=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        def building() -> Any:
            return conn.execute("""SELECT pid FROM pg_stat_progress_create_index
                                   WHERE relid = 'sigkill_build.t'::regclass
                                     AND phase = 'building index: loading tuples'""").fetchone()

        assert wait_for(lambda: building() or child.poll() is not None, 60), "the build never started"
        assert child.poll() is None, "the build finished before the kill; make it slower"
        (pid,) = building()
        time.sleep(0.5)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        killed = time.monotonic()
        gone = wait_for(lambda: conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                        is None, 60, 0.05)
        released = time.monotonic() - killed
        lock = conn.execute("SELECT pg_try_advisory_lock(hashtextextended('vectorops:live:sigkill-build', 0))"
                            ).fetchone()
        conn.execute("SELECT pg_advisory_unlock_all()")
        indexes = conn.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                               (f"{schema}.{table}",)).fetchall()
    assert gone and released < 2.5, f"the dead client's build ran on for {released:.1f}s"
    assert lock == (True,)
    assert indexes == [(f"{schema}.t_pkey",)], "the aborted build must leave no index, valid or not"


def test_the_watch_catches_a_ledger_ahead_of_the_data(tmp_path: Path, dsn: str, settings: Any) -> None:
    """The ledger check is not vacuous: a chunk marked done without its rows is reported."""
    name, schema = "sigkill-ledger", "sigkill_ledger"
    col = chroma_client(tmp_path).create_collection(name)
    add_records(col, [f"x{i}" for i in range(50)], np.random.default_rng(2).standard_normal((50, 4), dtype=np.float32))
    request = request_from_params({"chroma_path": str(tmp_path), "target_schema": schema}, settings)
    plan = steps.prepare(settings, request, name, "ledger-ahead")
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("""UPDATE vectorops.migration_chunks SET status = 'done', loaded_count = row_count
                            WHERE attempt_id = %s""", (plan.attempt_id,))
            conn.execute(sql.SQL("CREATE TABLE {} (id text, embedding vector(4))").format(
                sql.Identifier(schema, "sigkill_ledger")))
        watch = Watch()
        with psycopg.connect(dsn) as conn:
            observe(conn, watch, name, schema, "sigkill_ledger")
        assert watch.observations == 1 and len(watch.ahead) == 1 and "ledger says 50" in watch.ahead[0]
        assert watch.live_errors == ["the live table answered 0 rows instead of 5"]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.migration_source_ids WHERE attempt_id = %s", (plan.attempt_id,))
        forget_collection(dsn, name, schema)
