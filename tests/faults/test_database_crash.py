"""The database crashes mid-load: the unlogged shadow table is emptied, and the rerun detects it and converges."""

from __future__ import annotations

import os
import re
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

from tests.alert_receivers import use_webhook
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
from vectorops.db import runtime
from vectorops.naming import table_name_for

ROWS = 20_000
CHUNK_ROWS = 1_000
COLLECTION = "crash-db"
SCHEMA = "dbcrash"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-dbcrash")
    # a small m/ef_construction keeps both HNSW builds (Chroma's, and the rerun's in PostgreSQL) quick, as in
    # tests/faults/kill_source.py: what is checked here is the chunks, the crash recovery and the records
    col = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {
        "space": "l2", "max_neighbors": 8, "ef_construction": 48}})
    rng = np.random.default_rng(11)
    add_records(col, [f"d{i:06d}" for i in range(ROWS)], rng.standard_normal((ROWS, 32), dtype=np.float32),
                [f"doc {i}" for i in range(ROWS)], [{"i": i} for i in range(ROWS)])
    return path


def _crash_server(settings: Any) -> None:
    """``pg_ctl stop -m immediate``: no shutdown checkpoint, so the next start runs crash recovery."""
    assert runtime.stop(settings, mode="immediate")
    airflow_settings = sys.modules.get("airflow.settings")
    if airflow_settings is not None and getattr(airflow_settings, "engine", None) is not None:
        airflow_settings.engine.dispose()  # its pooled connections died with the server; keep the Session


def _shadow(dsn: str) -> tuple[str, str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        attempt, shadow = conn.execute(
            """SELECT attempt_id, shadow_table FROM vectorops.migration_runs
               WHERE collection = %s AND target_schema = %s AND status IN ('loading', 'failed')""",
            (COLLECTION, SCHEMA)).fetchone()
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, shadow))).fetchone()[0]
    return attempt, shadow, int(rows)


@pytest.fixture
def clean_target(dsn: str) -> Iterator[None]:
    yield
    forget_collection(dsn, COLLECTION, SCHEMA)


@pytest.mark.usefixtures("clean_target")
def test_crash_mid_load_empties_the_unlogged_shadow_and_the_rerun_reloads_it(
        store: Path, dsn: str, airflow_db: dict[str, str], settings: Any, http_receiver: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    use_webhook(monkeypatch, http_receiver.url("/crash"))
    env = {**os.environ, **airflow_db, "VECTOROPS_CHUNK_ROWS": str(CHUNK_ROWS)}
    first = subprocess.Popen(migrate_command(store, SCHEMA), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while done_chunks(dsn, COLLECTION, SCHEMA) < 3:
            assert first.poll() is None, "the migration finished before the crash; make it larger"
            assert time.monotonic() < deadline, "no chunk committed within 240 s"
            time.sleep(0.05)
        # chunk loads commit without waiting for their WAL (load/copy.py: a crash loses whole chunks, which
        # reload); flushed up to here, the 3 seen committed must survive. (A commit that wrote no WAL of its own
        # does not flush; under dag.test() Airflow's own commits between the tasks used to.)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_logical_emit_message(false, 'vectorops-test', 'flush', true)")
    finally:
        _crash_server(settings)
        output = first.communicate(timeout=120)[0]
    assert first.returncode != 0, "the migration did not notice the database going away"
    print(output[-2000:])
    assert "vectorops: error: lost the connection to the database (" in output, output[-3000:]
    assert "run the same command again" in output
    # one alert for the run: a lost database is every collection's failure, not this one's
    alerts = [p.json() for p in http_receiver.posts]
    assert [(a["event"], a["task_id"], a["collection"]) for a in alerts] == [
        ("migration_failed", "run", COLLECTION)], alerts

    runtime.start(settings)
    committed = done_chunks(dsn, COLLECTION, SCHEMA)
    attempt, _, in_shadow = _shadow(dsn)
    assert committed >= 3
    assert in_shadow == 0, "crash recovery should have emptied the unlogged shadow table"

    second = subprocess.run(migrate_command(store, SCHEMA), env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    logged = re.search(r"^log: (\S+)$", second.stderr, re.MULTILINE)  # the quiet command's log file
    assert logged and "load again" in Path(logged[1]).read_text(errors="replace"), \
        "the rerun did not say the lost chunks reload"
    row = registry_row(dsn, COLLECTION)
    assert row["last_attempt_id"] == attempt, "the rerun started a new attempt instead of resuming"
    assert (row["source_count"], row["loaded_count"], row["quarantined_count"]) == (ROWS, ROWS, 0)
    assert chroma_digest(store, COLLECTION) == pg_digest(dsn, SCHEMA, table_name_for(COLLECTION))
    with psycopg.connect(dsn) as conn:
        table = sql.Identifier(SCHEMA, table_name_for(COLLECTION))
        dupes = conn.execute(sql.SQL("SELECT count(*) - count(DISTINCT id) FROM {}").format(table)).fetchone()
        persistence = conn.execute("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(%s)",
                                   (table.as_string(conn),)).fetchone()
    assert dupes == (0,)
    assert persistence == ("p",), "the promoted table must be logged"
