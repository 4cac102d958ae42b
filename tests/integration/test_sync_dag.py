"""The ``chroma_sync`` DAG under real Airflow (``dag.test()``) against a Chroma 1.5.9 store written after its
migration, a real PostgreSQL, and a real HTTP alert receiver."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests import live_writer
from tests.alert_receivers import HttpReceiver, use_webhook
from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.chroma import locate
from vectorops.chroma.source import SourceSpec
from vectorops.db.bootstrap import bootstrap
from vectorops.naming import table_name_for
from vectorops.sync import run as sync_run
from vectorops.sync.request import SyncRequest

DIMS = 8


def _store(path: Path, name: str, n: int) -> Any:
    collection = chroma_client(path).get_or_create_collection(
        name, metadata={"hnsw:space": "l2", "hnsw:sync_threshold": 100, "hnsw:batch_size": 50},
        embedding_function=None)
    rng = np.random.default_rng(3)
    add_records(collection, [f"r-{i:05d}" for i in range(n)], rng.standard_normal((n, DIMS), dtype=np.float32),
                documents=[f"document {i}" for i in range(n)], metadatas=[{"i": i} for i in range(n)])
    return collection


def _migrate(settings: Any, path: Path, schema: str, names: list[str]) -> None:
    locate.forget_files()
    summaries = migrate_in_process(settings, {"chroma_path": str(path), "target_schema": schema,
                                              "collections": names}, f"sync-dag-{schema}")
    assert [s["validation"] for s in summaries] == ["passed"] * len(names)
    # the steps ran as the superuser: hand what they created to vectorops_etl, whom the DAG's tasks connect as,
    # as `vectorops db up` does
    bootstrap(settings)


def _start_syncing(dsn: str, path: Path, schema: str, name: str) -> None:
    """One `vectorops sync` of ``name``: its registry state becomes ``syncing``."""
    [outcome] = sync_run.sync_all(dsn, SyncRequest(SourceSpec(path=str(path)), (name,), schema, 50))
    assert isinstance(outcome, sync_run.SyncResult) and outcome.in_parity, outcome
    assert registry_row(dsn, name)["sync_state"] == "syncing"


def _sync_runs(dsn: str, name: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT status, added, updated, deleted, quarantined, lag_records FROM vectorops.sync_runs "
                            "WHERE collection = %s ORDER BY started_at", (name,)).fetchall()


def _mapped_states(run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.rendered_map_index or str(ti.map_index): str(ti.state)
                for ti in run.get_task_instances(session=session) if ti.task_id == "sync_collection"}


def _write(collection: Any, seed: int) -> None:
    """7 adds, 4 updates and 2 deletes."""
    rng = np.random.default_rng(seed)
    collection.add(ids=[f"new-{seed}-{i}" for i in range(7)], documents=[f"new {i}" for i in range(7)],
                   embeddings=rng.standard_normal((7, DIMS), dtype=np.float32))
    collection.update(ids=[f"r-{i:05d}" for i in range(10, 14)], documents=[f"changed {seed}"] * 4,
                      embeddings=rng.standard_normal((4, DIMS), dtype=np.float32))
    collection.delete(ids=[f"r-{i:05d}" for i in range(20 + 2 * seed, 22 + 2 * seed)])


def test_a_scheduled_run_syncs_the_syncing_collections_only_and_the_table_equals_chroma(
        settings: Any, dsn: str, airflow_db: dict[str, str], tmp_path: Path, http_receiver: HttpReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.airflow.run import load_dag

    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    schema, live, idle = "sync_dag", "dag-live", "dag-idle"
    collection = _store(tmp_path, live, 300)
    other = _store(tmp_path, idle, 50)
    _migrate(settings, tmp_path, schema, [live, idle])
    _write(collection, 1)
    _start_syncing(dsn, tmp_path, schema, live)
    _write(collection, 2)
    other.add(ids=["idle-new"], embeddings=np.ones((1, DIMS), dtype=np.float32))

    run = load_dag("chroma_sync").test(run_conf={"target_schema": schema})  # no source, no collections: registry
    assert str(run.state) == "success"
    assert _mapped_states(run) == {live: "success"}
    assert pg_digest(dsn, schema, table_name_for(live)) == chroma_digest(tmp_path, live)
    row = registry_row(dsn, live)
    assert row["sync_state"] == "syncing" and row["changes_behind"] == 0
    assert _sync_runs(dsn, live)[-1] == ("done", 7, 4, 2, 0, 0)  # the DAG's sync reports the writes since
    assert registry_row(dsn, idle)["sync_state"] == "migrated" and _sync_runs(dsn, idle) == []
    assert pg_digest(dsn, schema, table_name_for(idle))[1] == 50  # a migrated-only collection is left alone
    assert http_receiver.posts == []


def test_a_run_with_nothing_syncing_succeeds_and_does_nothing(settings: Any, dsn: str, airflow_db: dict[str, str],
                                                              tmp_path: Path) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    schema = "sync_dag_cold"
    _store(tmp_path, "dag-cold", 30)
    _migrate(settings, tmp_path, schema, ["dag-cold"])  # migrated, never synced
    with psycopg.connect(dsn) as conn:
        before = conn.execute("SELECT count(*) FROM vectorops.sync_runs").fetchone()
    run = load_dag("chroma_sync").test(run_conf={"target_schema": schema})
    assert str(run.state) == "success"
    assert set(_mapped_states(run).values()) <= {"skipped"}
    with create_session() as session:  # the run says "nothing to sync yet" in list_collections and skips
        listed = {str(ti.state) for ti in run.get_task_instances(session=session) if ti.task_id == "list_collections"}
    assert listed == {"skipped"}
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.sync_runs").fetchone() == before
    assert registry_row(dsn, "dag-cold")["sync_state"] == "migrated"


def test_a_busy_collection_fails_its_task_once_without_an_alert(settings: Any, dsn: str, airflow_db: dict[str, str],
                                                                tmp_path: Path, http_receiver: HttpReceiver,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    schema, name = "sync_dag_busy", "dag-busy"
    _store(tmp_path, name, 40)
    _migrate(settings, tmp_path, schema, [name])
    _start_syncing(dsn, tmp_path, schema, name)
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended('vectorops:sync:' || %s, 0))", (name,))
        run = load_dag("chroma_sync").test(run_conf={"chroma_path": str(tmp_path), "collections": [name]})
    assert str(run.state) == "failed"
    with create_session() as session:
        [ti] = [ti for ti in run.get_task_instances(session=session) if ti.task_id == "sync_collection"]
        assert (str(ti.state), ti.try_number) == ("failed", 1)  # not retried: the next run syncs it
    assert http_receiver.posts == []


def test_a_lag_above_the_limit_alerts_once_and_fails_the_task(settings: Any, dsn: str, airflow_db: dict[str, str],
                                                              tmp_path: Path, http_receiver: HttpReceiver,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.airflow.run import load_dag

    # a 1.x writer's logged-but-unapplied write makes the files reader refuse the store for a moment: read
    # through Chroma's API on a private copy then, as the live migration test does
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "auto")
    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    monkeypatch.setenv("VECTOROPS_SYNC_MAX_LAG_S", "0.001")
    monkeypatch.setenv("VECTOROPS_RETRY_DELAY_S", "0.5")
    schema, name = "sync_dag_lag", "dag-lag"
    store = tmp_path / "store"
    _store(store, name, 300)
    _migrate(settings, store, schema, [name])
    _start_syncing(dsn, store, schema, name)
    report = tmp_path / "writer.json"
    writer = live_writer.start(store, name, seed=9, rate=100.0, report=report)
    try:
        time.sleep(3.0)  # the writer is under way: the sync cannot end with nothing written after its read point
        run = load_dag("chroma_sync").test(run_conf={"target_schema": schema})
    finally:
        counts = live_writer.stop(writer, report)
    assert sum(counts.values()) > 0
    assert str(run.state) == "failed"
    assert _mapped_states(run) == {name: "failed"}
    [post] = [p.json() for p in http_receiver.posts]  # the task's own alert; the failure callback sends none
    assert (post["event"], post["collection"], post["dag_id"]) == ("sync_lag_breach", name, "chroma_sync")
    assert post["table"] == f"{schema}.{table_name_for(name)}"
    observed = post["failed_expectations"][0]["observed"]
    assert observed["lag_records"] > 0 and observed["lag_seconds"] > 0.001 and observed["max_lag_s"] == 0.001
    assert f"collection '{name}'" in post["message"] and "VECTOROPS_SYNC_MAX_LAG_S=0.001s" in post["message"]
    status, *_, lag_records = _sync_runs(dsn, name)[-1]
    assert status == "done" and lag_records == observed["lag_records"]  # recorded before the task failed


def test_a_cutover_run_cuts_the_named_collection_over_and_later_runs_leave_it(
        settings: Any, dsn: str, airflow_db: dict[str, str], tmp_path: Path) -> None:
    from vectorops.airflow.run import load_dag

    schema, name = "sync_dag_cut", "dag-cut"
    collection = _store(tmp_path, name, 120)
    _migrate(settings, tmp_path, schema, [name])
    _start_syncing(dsn, tmp_path, schema, name)
    _write(collection, 3)  # applied by the cutover's final sync
    run = load_dag("chroma_sync").test(run_conf={"chroma_path": str(tmp_path), "collections": [name],
                                                 "cutover": True})
    assert str(run.state) == "success"
    assert _mapped_states(run) == {name: "success"}
    assert registry_row(dsn, name)["sync_state"] == "cut over"
    assert pg_digest(dsn, schema, table_name_for(name)) == chroma_digest(tmp_path, name)
    kind, added, updated, deleted = _cutover_run(dsn, name)
    assert (kind, added, updated, deleted) == ("cutover", 7, 4, 2)
    later = load_dag("chroma_sync").test(run_conf={"target_schema": schema})  # no longer `syncing`: nothing to do
    assert str(later.state) == "success" and set(_mapped_states(later).values()) <= {"skipped"}


def _cutover_run(dsn: str, name: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT kind, added, updated, deleted FROM vectorops.sync_runs WHERE collection = %s "
                           "ORDER BY started_at DESC LIMIT 1", (name,)).fetchone()
    assert row is not None
    return tuple(row)
