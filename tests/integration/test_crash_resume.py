"""A migration killed mid-load resumes from its committed chunks and reaches exact parity."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import (
    add_records,
    chroma_client,
    chroma_digest,
    done_chunks,
    forget_collection,
    migrate_command,
    pg_digest,
    registry_row,
)
from vectorops.naming import table_name_for

ROWS = 30_000
CHUNK_ROWS = 1_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-crash")
    # a small m/ef_construction keeps both HNSW builds (Chroma's, and each rerun's in PostgreSQL) quick, as in
    # tests/faults/kill_source.py: what is checked here is the chunks, the resume and the records, not the graph
    col = chroma_client(path).create_collection("crash-me", configuration={"hnsw": {
        "space": "cosine", "max_neighbors": 8, "ef_construction": 48}})
    rng = np.random.default_rng(3)
    add_records(col, [f"c{i:06d}" for i in range(ROWS)], rng.standard_normal((ROWS, 64), dtype=np.float32),
                [f"doc {i}" for i in range(ROWS)], [{"i": i, "even": i % 2 == 0} for i in range(ROWS)])
    return path


def _wait_for_chunks(proc: subprocess.Popen[Any], dsn: str, schema: str, chunks: int, to_be: str) -> None:
    """Until ``chunks`` chunks of the running migration into ``schema`` committed (240 s at most)."""
    deadline = time.monotonic() + 240
    while done_chunks(dsn, "crash-me", schema) < chunks:
        assert proc.poll() is None, f"the migration finished before it could be {to_be}; make it larger"
        assert time.monotonic() < deadline, "no chunk committed within 240 s"
        time.sleep(0.05)


def test_sigkill_mid_load_then_rerun_resumes_to_exact_parity(store: Path, dsn: str, airflow_db: dict[str, str],
                                                             settings: Any) -> None:
    env = {**os.environ, **airflow_db, "VECTOROPS_CHUNK_ROWS": str(CHUNK_ROWS)}
    first = subprocess.Popen(migrate_command(store, "crash"), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_chunks(first, dsn, "crash", 3, "killed")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    committed = done_chunks(dsn, "crash-me", "crash")
    total_chunks = ROWS // CHUNK_ROWS
    assert 3 <= committed < total_chunks, f"killed too late: {committed} of {total_chunks} chunks done"
    with psycopg.connect(dsn) as conn:
        attempt, done_before = conn.execute(
            """SELECT c.attempt_id, array_agg(c.chunk_no ORDER BY c.chunk_no) FROM vectorops.migration_chunks c
               JOIN vectorops.migration_runs r USING (attempt_id)
               WHERE r.collection = 'crash-me' AND r.target_schema = 'crash' AND c.status = 'done'
               GROUP BY c.attempt_id""").fetchone()
        assert conn.execute("SELECT count(*) FROM vectorops.collection_claims WHERE collection = 'crash-me'"
                            ).fetchone() == (1,)

    second = subprocess.run(migrate_command(store, "crash"), env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    row = registry_row(dsn, "crash-me")
    assert row["last_attempt_id"] == attempt, "the rerun started over instead of resuming"
    assert (row["source_count"], row["loaded_count"], row["quarantined_count"]) == (ROWS, ROWS, 0)
    assert chroma_digest(store, "crash-me") == pg_digest(dsn, "crash", table_name_for("crash-me"))
    with psycopg.connect(dsn) as conn:
        dupes = conn.execute(psycopg.sql.SQL("SELECT count(*) - count(DISTINCT id) FROM {}").format(
            psycopg.sql.Identifier("crash", table_name_for("crash-me")))).fetchone()
        kept = conn.execute("""SELECT array_agg(chunk_no ORDER BY chunk_no) FROM vectorops.migration_chunks
                               WHERE attempt_id = %s AND chunk_no = ANY(%s) AND done_at IS NOT NULL""",
                            (attempt, done_before)).fetchone()
    assert dupes == (0,)
    assert kept == (done_before,)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell without job control starts children with SIGINT ignored


def test_ctrl_c_mid_load_stops_the_migration_at_once_and_the_rerun_resumes(store: Path, dsn: str,
                                                                           airflow_db: dict[str, str]) -> None:
    """Airflow's task runner would take the KeyboardInterrupt for a task failure and go on to the end."""
    forget_collection(dsn, "crash-me", "crash")  # the test before migrated it: this one starts from nothing
    env = {**os.environ, **airflow_db, "VECTOROPS_CHUNK_ROWS": str(CHUNK_ROWS)}
    command = migrate_command(store, "crash_int")
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True, preexec_fn=_default_sigint)
    try:
        _wait_for_chunks(first, dsn, "crash_int", 2, "interrupted")
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert first.returncode == 130, (out[-2000:], err[-2000:])
    lines = err.strip().splitlines()
    assert lines[-2] == ("vectorops: error: interrupted: the migration stops here; the chunks that committed are kept "
                         "and the same command resumes from them"), err[-2000:]
    assert lines[-1].startswith("details: ") and Path(lines[-1].removeprefix("details: ")).is_file(), err[-2000:]
    committed = done_chunks(dsn, "crash-me", "crash_int")
    assert 2 <= committed < ROWS // CHUNK_ROWS, f"{committed} chunks done: the run went on after Ctrl-C"

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert chroma_digest(store, "crash-me") == pg_digest(dsn, "crash_int", table_name_for("crash-me"))
