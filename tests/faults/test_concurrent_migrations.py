"""Two migrations of one collection started at the same moment, in two real processes: exactly one writes.

``tests/integration/test_concurrent_runs.py`` proves the claim rules in one process (a live owner refuses,
a dead one is taken over, a writer's lock wins over a stale claim). What it cannot show is the race itself:
here two processes are held at the claim's own lock and released together, so both decide at the same
instant. Once with two ``vectorops migrate`` commands (claims tied to the process's owner token), once with
two bare ``dag.test()`` processes (claims of Airflow runs, kept alive by their heartbeat).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.faults.ledger_watch import wait_for
from tests.support import (
    add_records,
    chroma_client,
    chroma_digest,
    forget_collection,
    forget_schema,
    migrate_command,
    pg_digest,
    registry_row,
)
from vectorops.naming import previous_name, table_name_for

ROWS = 3000
COLLECTION = "raced"

DAG_TEST = """
import json, sys
from vectorops.airflow.run import run_dag
from vectorops.config import load_settings
state, run_id = run_dag("chroma_to_pgvector", json.loads(sys.argv[1]), load_settings())
print(f"dag.test finished {state} {run_id}")
sys.exit(0 if state == "success" else 1)
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-raced")
    col = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {"space": "ip"}})
    add_records(col, [f"q{i:05d}" for i in range(ROWS)],
                np.random.default_rng(5).standard_normal((ROWS, 16), dtype=np.float32),
                [f"doc {i}" for i in range(ROWS)], [{"i": i} for i in range(ROWS)])
    return path


@pytest.fixture(params=["vectorops-migrate", "dag-test"])
def how(request: pytest.FixtureRequest, dsn: str) -> Iterator[tuple[str, str]]:
    schema = "raced_cli" if request.param == "vectorops-migrate" else "raced_dag"
    yield request.param, schema
    forget_collection(dsn, COLLECTION, schema)
    forget_schema(dsn, schema)


def _command(how: str, store: Path, schema: str) -> list[str]:
    if how == "vectorops-migrate":
        return migrate_command(store, schema)
    return [sys.executable, "-c", DAG_TEST, json.dumps({"chroma_path": str(store), "target_schema": schema})]


def _waiting_on_claim(conn: psycopg.Connection) -> int:
    """Runs waiting to claim the collection: on the claim itself, or (the second) on the lock under which a key is
    chosen and claimed, which the first holds while it waits on the claim."""
    return int(conn.execute(
        """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
             AND ((classid::bigint << 32) | objid::bigint) IN (hashtextextended('vectorops:claim:' || %s, 0),
                                                             hashtextextended('vectorops.store-key:' || %s, 0))""",
        (COLLECTION, COLLECTION)).fetchone()[0])


def test_two_runs_started_together_exactly_one_writes_and_the_other_names_it(
        store: Path, how: tuple[str, str], dsn: str, airflow_db: dict[str, str], tmp_path: Path) -> None:
    kind, schema = how
    env = {**os.environ, **airflow_db, "VECTOROPS_TASK_RETRIES": "0"}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with psycopg.connect(dsn) as gate, psycopg.connect(dsn, autocommit=True) as watcher:
        gate.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops:claim:' || %s, 0))", (COLLECTION,))
        procs = []
        for log in logs:
            with open(log, "wb") as out:
                procs.append(subprocess.Popen(_command(kind, store, schema), env=env, stdout=out,
                                              stderr=subprocess.STDOUT))
        try:
            both = wait_for(lambda: _waiting_on_claim(watcher) == 2 or any(p.poll() is not None for p in procs),
                            180, 0.05)
            assert both and _waiting_on_claim(watcher) == 2, "the two runs never met at the claim"
        finally:
            gate.commit()  # both decide now
            for proc in procs:
                proc.wait(300)
    outputs = [log.read_text(errors="replace") for log in logs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1], f"exit codes {codes}:\n" + "\n----\n".join(o[-2500:] for o in outputs)

    winner = registry_row(dsn, COLLECTION)
    loser_output = outputs[codes.index(1)]
    busy = f"collection {COLLECTION!r} is being migrated by run {winner['last_run_id']}"
    logged = re.search(r"^log: (\S+)$", loser_output, re.MULTILINE)  # a quiet `vectorops migrate` logs to a file
    assert busy in loser_output + (Path(logged[1]).read_text(errors="replace") if logged else ""), loser_output
    with psycopg.connect(dsn, autocommit=True) as conn:
        attempts = conn.execute("""SELECT run_id, status FROM vectorops.migration_runs
                                   WHERE collection = %s AND target_schema = %s""", (COLLECTION, schema)).fetchall()
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
        claims = conn.execute("SELECT count(*) FROM vectorops.collection_claims WHERE collection = %s",
                              (COLLECTION,)).fetchone()
    assert attempts == [(winner["last_run_id"], "promoted")], "the refused run must not have written anything"
    assert tables == {table_name_for(COLLECTION)}, f"one promotion: no shadow, no {previous_name('<table>')}: {tables}"
    assert claims == (0,)
    assert (winner["source_count"], winner["loaded_count"], winner["quarantined_count"]) == (ROWS, ROWS, 0)
    assert chroma_digest(store, COLLECTION) == pg_digest(dsn, schema, table_name_for(COLLECTION))
