"""Scale-out on a real Celery cluster (issue 25): Redis, the scheduler, API server, DAG processor, triggerer and two
``airflow celery worker`` processes, set up from ``docker-compose.yaml`` (:mod:`tests.e2e.celery_cluster`).

One migration through the REST API: its chunks run on both workers; the worker running one of them is killed with
SIGKILL in the middle of that chunk (the chunk's transaction is open, held at its ledger row by this test); the
scheduler fails the lost task once its heartbeat stops, it is retried on the other worker, and the table is exact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import psycopg
import pytest
import requests
from psycopg import sql

from tests.alert_receivers import HttpReceiver
from tests.e2e.celery_cluster import (
    ALERT_WEBHOOK_CONN_ID,
    CHUNK_ROWS,
    HEARTBEAT_TIMEOUT_S,
    WORKERS,
    Cluster,
    celery_cluster,
)
from tests.e2e.conftest import DAG_ID
from tests.support import add_records, chroma_client, chroma_digest, pg_digest

COLLECTION = "celery_docs"
ROWS = 6 * CHUNK_ROWS
CHUNKS = ROWS // CHUNK_ROWS
DIMENSIONS = 16
SCHEMA = "celery_e2e"
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("celery-chroma")
    collection = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}})
    vectors = np.random.default_rng(25).standard_normal((ROWS, DIMENSIONS), dtype=np.float32)
    add_records(collection, [f"doc-{i:05d}" for i in range(ROWS)], vectors, [f"document {i}" for i in range(ROWS)],
                [{"i": i, "tag": f"t{i % 7}"} for i in range(ROWS)])
    return path


@pytest.fixture(scope="module")
def cluster(store: Path) -> Iterator[Cluster]:
    with celery_cluster(store) as running:
        yield running


def _wait(what: str, check: Any, cluster: Cluster, timeout_s: float = 120, every_s: float = 0.2,
          seen: dict[str, Any] | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (found := check()) is not None and found is not False:
            return found
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} (last seen: {seen}):\n"
                         f"{cluster.log_tails()}")


def _lock_the_last_chunk(conn: psycopg.Connection, cluster: Cluster) -> tuple[str, int]:
    """Once the collection's chunks are planned, lock the last one's ledger row in ``conn``'s open transaction:
    the task that loads it blocks there, inside its own chunk transaction, until this one ends."""
    def planned() -> tuple[str, int] | None:
        row = conn.execute(
            "SELECT r.attempt_id, count(c.*) FROM vectorops.migration_runs r JOIN vectorops.migration_chunks c "
            "USING (attempt_id) WHERE r.collection = %s AND r.target_schema = %s GROUP BY 1", (COLLECTION, SCHEMA)
        ).fetchone()
        conn.commit()
        return (row[0], row[1]) if row and row[1] == CHUNKS else None

    attempt_id, _ = _wait("the chunks to be planned", planned, cluster, every_s=0.05)
    locked = conn.execute("SELECT chunk_no, status FROM vectorops.migration_chunks WHERE attempt_id = %s "
                          "ORDER BY chunk_no DESC LIMIT 1 FOR UPDATE", (attempt_id,)).fetchone()
    assert locked is not None and locked[1] == "pending", f"the last chunk was loaded before it could be held: {locked}"
    return attempt_id, int(locked[0])


def _chunk_tis(cluster: Cluster, run_id: str) -> dict[int, dict[str, Any]]:
    """The run's chunk loads by map index (their label, ``collection #chunk``, is rendered when they finish)."""
    return {ti["map_index"]: ti for ti in cluster.platform.task_instances(run_id) if ti["task_id"] == "load_chunk"}


def test_chunks_spread_over_two_workers_and_a_killed_worker_s_chunk_is_retried_on_the_other(
        cluster: Cluster, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    platform = cluster.platform
    resp = platform.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert resp.status_code == 200, resp.text
    resp = platform.api("POST", f"/dags/{DAG_ID}/dagRuns",
                        json={"logical_date": None, "conf": {"collections": [COLLECTION], "target_schema": SCHEMA}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]

    dsn = cluster.vectors_dsn
    with psycopg.connect(dsn) as chunk_gate, psycopg.connect(dsn) as commit_gate, \
            psycopg.connect(dsn, autocommit=True) as probe:
        attempt_id, held = _lock_the_last_chunk(chunk_gate, cluster)
        label = f"{COLLECTION} #{held}"
        last = CHUNKS - 1  # the chunks are mapped in chunk order: the last chunk is the last map index
        seen: dict[str, Any] = {}

        def blocked_by(gate: psycopg.Connection) -> tuple[int, bool, str] | None:
            """The session waiting for ``gate``'s lock: its pid, whether it has written, its statement. Asked in
            autocommit: inside one transaction pg_stat_activity would stay at its first snapshot."""
            row = probe.execute("SELECT pid, backend_xid IS NOT NULL, query FROM pg_stat_activity "
                                "WHERE %s = ANY(pg_blocking_pids(pid))", (gate.info.backend_pid,)).fetchone()
            return None if row is None else (int(row[0]), bool(row[1]), str(row[2]))

        def held_chunk_running() -> dict[str, Any] | None:
            ti = _chunk_tis(cluster, run_id).get(last)
            seen["held"] = ti and {k: ti[k] for k in ("state", "hostname", "map_index")}
            return ti if ti and ti["state"] == "running" and ti["hostname"] and blocked_by(chunk_gate) else None

        held_ti = _wait(f"chunk {label} to start and wait at its ledger row", held_chunk_running, cluster, seen=seen)

        def the_others_done() -> dict[int, dict[str, Any]] | None:
            tis = _chunk_tis(cluster, run_id)
            others = {k: v for k, v in tis.items() if k != last}
            return others if len(others) == CHUNKS - 1 and all(v["state"] == "success" for v in others.values()) \
                else None

        others = _wait("the other chunks to succeed", the_others_done, cluster, timeout_s=180, every_s=1)
        by_host: dict[str, list[str]] = {}
        for map_index, ti in sorted({**others, last: held_ti}.items()):
            by_host.setdefault(ti["hostname"], []).append(f"#{map_index}")
        assert set(by_host) == set(cluster.hostnames.values()), f"chunks did not run on both workers: {by_host}"

        # let the held chunk go on up to its commit: its rows COPYed, the attempt's totals (the run row) held
        commit_gate.execute("SELECT 1 FROM vectorops.migration_runs WHERE attempt_id = %s FOR NO KEY UPDATE",
                            (attempt_id,))
        chunk_gate.rollback()
        _, wrote, statement = _wait(f"chunk {label} to reach its commit", lambda: blocked_by(commit_gate), cluster)
        assert wrote and "UPDATE vectorops.migration_runs SET loaded_count" in statement, statement
        table = probe.execute("SELECT target_schema, shadow_table FROM vectorops.migration_runs WHERE attempt_id = %s",
                              (attempt_id,)).fetchone()
        assert table is not None
        visible = probe.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table))).fetchone()
        assert visible == ((CHUNKS - 1) * CHUNK_ROWS,), visible  # the held chunk's rows are written, not committed

        victim = next(name for name, host in cluster.hostnames.items() if host == held_ti["hostname"])
        survivor = next(name for name in WORKERS if name != victim)
        killed = cluster.kill_worker(victim)
        commit_gate.rollback()  # the lost task's backend may take the row now; its client is gone: it never commits
    assert not [pid for pid in killed if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]

    platform.wait_for_run(run_id, timeout_s=240)

    # the chunk of the killed worker: tried there first, then on the survivor
    assert _chunk_tis(cluster, run_id)[last]["rendered_map_index"] == label
    tries = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/load_chunk/{last}/tries")
    assert tries.status_code == 200, tries.text
    attempts = sorted(tries.json()["task_instances"], key=lambda t: t["try_number"])
    assert [(t["hostname"], t["state"]) for t in attempts] == [
        (cluster.hostnames[victim], "failed"), (cluster.hostnames[survivor], "success")], attempts

    # placement: chunk loads on the default queue, the index build on "heavy"
    instances = platform.task_instances(run_id)
    queues = {ti["task_id"]: ti["queue"] for ti in instances}
    assert (queues["load_chunk"], queues["finalize_collection"]) == ("default", "heavy"), queues

    # exact: every record, by digest of id, vector, document, metadata and uri
    assert pg_digest(cluster.vectors_dsn, SCHEMA, COLLECTION) == chroma_digest(store, COLLECTION)
    with psycopg.connect(cluster.vectors_dsn) as conn:
        # the ledger counted each chunk once, though one was loaded twice over
        chunks = conn.execute("SELECT count(*), count(*) FILTER (WHERE status = 'done'), sum(loaded_count) "
                              "FROM vectorops.migration_chunks WHERE attempt_id = %s", (attempt_id,)).fetchone()
        assert chunks == (CHUNKS, CHUNKS, ROWS), chunks
        run = conn.execute("SELECT status, loaded_count, quarantined_count FROM vectorops.migration_runs "
                           "WHERE attempt_id = %s", (attempt_id,)).fetchone()
        assert run == ("promoted", ROWS, 0), run
        # nothing left running: no vectorops session or advisory lock (claims) in the database
        sessions = conn.execute("SELECT usename, state, query FROM pg_stat_activity WHERE usename LIKE 'vectorops\\_%' "
                                "AND pid <> pg_backend_pid()").fetchall()
        assert sessions == [], sessions
        locks = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert locks == (0,), locks
    unfinished = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in instances if ti["state"] != "success"}
    assert unfinished == {}, unfinished
    assert cluster.task_processes(survivor) == []

    # the Vector Health page, on the API server of the Celery deployment
    health = requests.get(f"{platform.base_url}/vector-health/api/collections", timeout=30,
                          headers={"Authorization": f"Bearer {platform.token()}"})
    assert health.status_code == 200, health.text
    assert {c["collection"]: c["rows"] for c in health.json()["collections"]} == {COLLECTION: ROWS}

    with capsys.disabled():
        print(f"\n[celery] chunks by worker hostname: {by_host}; chunk {label} was running on "
              f"{cluster.hostnames[victim]} with its {CHUNK_ROWS} rows written, uncommitted, when the worker was "
              f"killed (SIGKILL of {len(killed)} processes), retried on "
              f"{cluster.hostnames[survivor]} after the {HEARTBEAT_TIMEOUT_S}s heartbeat timeout; "
              f"{ROWS} rows exact")


def test_a_failed_task_on_a_worker_alerts_through_a_connection_stored_in_the_metadata_database(
        cluster: Cluster, http_receiver: HttpReceiver) -> None:
    """The webhook connection is created through the REST API, so the API server encrypts it with the deployment's
    Fernet key and the worker decrypts it: the shared secrets of the compose file at work."""
    platform = cluster.platform
    created = platform.api("POST", "/connections", json={"connection_id": ALERT_WEBHOOK_CONN_ID, "conn_type": "http",
                                                         "host": http_receiver.url("/alerts")})
    assert created.status_code == 201, created.text
    wrong = "/nonexistent/celery store"
    resp = platform.api("POST", f"/dags/{DAG_ID}/dagRuns",
                        json={"logical_date": None, "conf": {"chroma_path": wrong, "collections": [COLLECTION]}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]

    def finished() -> dict[str, Any] | None:
        run = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
        return run if run["state"] in ("success", "failed") else None

    run = _wait("the run with a wrong path to finish", finished, cluster, timeout_s=120, every_s=0.5)
    assert run["state"] == "failed", run
    failed = [(ti["task_id"], ti["try_number"], ti["hostname"]) for ti in platform.task_instances(run_id)
              if ti["state"] == "failed"]
    assert [(task, tries) for task, tries, _ in failed] == [("plan_request", 1)], failed
    assert failed[0][2] in cluster.hostnames.values()
    alert = _wait("the alert", lambda: http_receiver.posts[:1], cluster, timeout_s=30)[0].json()
    assert len(http_receiver.posts) == 1, http_receiver.bodies()
    assert wrong in json.dumps(alert) and "plan_request" in json.dumps(alert), alert
