"""`vectorops sync` against a real Chroma 1.5.9 store written after its migration, and a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.chroma import locate
from vectorops.chroma.source import SourceSpec
from vectorops.cli.main import main
from vectorops.errors import CollectionBusy, RequestError
from vectorops.naming import table_name_for
from vectorops.sync import run as sync_run
from vectorops.sync.request import SyncRequest
from vectorops.sync.target import select_targets

DIMS = 8
SCHEMA = "sync_test"


def _store(path: Path, name: str, n: int, space: str = "l2") -> Any:
    collection = chroma_client(path).get_or_create_collection(
        name, metadata={"hnsw:space": space, "hnsw:sync_threshold": 100, "hnsw:batch_size": 50},
        embedding_function=None)
    rng = np.random.default_rng(7)
    ids = [f"r-{i:05d}" for i in range(n)]
    add_records(collection, ids, rng.standard_normal((n, DIMS), dtype=np.float32),
                documents=[f"document {i}" for i in range(n)],
                metadatas=[{"i": i, "even": i % 2 == 0} for i in range(n)])
    return collection


def _migrate(settings: Any, path: Path, name: str, run_id: str) -> None:
    locate.forget_files()
    summary = migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA,
                                            "collections": [name]}, run_id)[0]
    assert summary["validation"] == "passed"


def _sync(dsn: str, path: Path, name: str) -> Any:
    outcomes = sync_run.sync_all(dsn, SyncRequest(SourceSpec(path=str(path)), (name,), SCHEMA, 40))
    assert len(outcomes) == 1
    return outcomes[0]


def _equal(dsn: str, path: Path, name: str, exclude: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    assert pg_digest(dsn, SCHEMA, table_name_for(name)) == chroma_digest(path, name, exclude=exclude)


def test_sync_applies_adds_updates_upserts_and_deletes_and_reaches_parity(settings: Any, dsn: str,
                                                                         tmp_path: Path) -> None:
    collection = _store(tmp_path, "sync-basic", 600)
    _migrate(settings, tmp_path, "sync-basic", "sync-run-1")
    rng = np.random.default_rng(11)
    collection.add(ids=[f"new-{i}" for i in range(50)], embeddings=rng.standard_normal((50, DIMS), dtype=np.float32),
                   documents=[f"new {i}" for i in range(50)])
    collection.update(ids=[f"r-{i:05d}" for i in range(10)], documents=[f"changed {i}" for i in range(10)],
                      embeddings=rng.standard_normal((10, DIMS), dtype=np.float32))
    collection.update(ids=[f"r-{i:05d}" for i in range(10, 20)], metadatas=[{"i": -i} for i in range(10)])
    collection.update(ids=[f"r-{i:05d}" for i in range(20, 30)],
                      embeddings=rng.standard_normal((10, DIMS), dtype=np.float32))
    collection.upsert(ids=[f"r-{i:05d}" for i in range(30, 40)] + [f"up-{i}" for i in range(10)],
                      embeddings=rng.standard_normal((20, DIMS), dtype=np.float32))
    collection.delete(ids=[f"r-{i:05d}" for i in range(100, 125)])
    outcome = _sync(dsn, tmp_path, "sync-basic")
    assert isinstance(outcome, sync_run.SyncResult), outcome
    assert (outcome.added, outcome.updated, outcome.deleted, outcome.quarantined) == (60, 40, 25, 0)
    assert outcome.in_parity and outcome.lag_records == 0 and outcome.source_count == 600 + 60 - 25
    _equal(dsn, tmp_path, "sync-basic")
    row = registry_row(dsn, "sync-basic")
    assert row["sync_state"] == "syncing" and row["read_point"] == outcome.read_point
    assert row["loaded_count"] == 635 and row["quarantined_count"] == 0 and row["last_sync_id"] == outcome.sync_id

    again = _sync(dsn, tmp_path, "sync-basic")  # nothing written since: nothing applied, same read point
    assert isinstance(again, sync_run.SyncResult)
    assert (again.added, again.updated, again.deleted, again.read_point) == (0, 0, 0, outcome.read_point)
    assert again.in_parity
    with psycopg.connect(dsn) as conn:
        runs = conn.execute("SELECT status, added, updated, deleted FROM vectorops.sync_runs WHERE collection = %s "
                            "ORDER BY started_at", ("sync-basic",)).fetchall()
    assert runs == [("done", 60, 40, 25), ("done", 0, 0, 0)]


def test_an_unstorable_change_is_quarantined_and_cleared_when_it_becomes_storable(settings: Any, dsn: str,
                                                                                  tmp_path: Path) -> None:
    collection = _store(tmp_path, "sync-quarantine", 300)
    _migrate(settings, tmp_path, "sync-quarantine", "sync-run-2")
    vector = np.ones((1, DIMS), dtype=np.float32)  # Chroma embeds a document given alone
    collection.update(ids=["r-00005"], documents=["bad \x00 document"], embeddings=vector)
    outcome = _sync(dsn, tmp_path, "sync-quarantine")
    assert isinstance(outcome, sync_run.SyncResult)
    assert outcome.quarantined == 1 and outcome.in_parity
    with psycopg.connect(dsn) as conn:
        gone = conn.execute(f'SELECT count(*) FROM {SCHEMA}."{table_name_for("sync-quarantine")}" '  # noqa: S608
                            "WHERE id = 'r-00005'").fetchone()
    assert gone == (0,), "the table must not keep the record's old value"
    row = registry_row(dsn, "sync-quarantine")
    assert row["loaded_count"] + row["quarantined_count"] == 300
    _equal(dsn, tmp_path, "sync-quarantine", exclude={"r-00005"})

    collection.update(ids=["r-00005"], documents=["fine again"], embeddings=vector)
    fixed = _sync(dsn, tmp_path, "sync-quarantine")
    assert isinstance(fixed, sync_run.SyncResult) and fixed.updated + fixed.added == 1 and fixed.in_parity
    row = registry_row(dsn, "sync-quarantine")
    assert (row["loaded_count"], row["quarantined_count"]) == (300, 0)
    _equal(dsn, tmp_path, "sync-quarantine")


def test_a_second_sync_of_one_collection_is_refused(settings: Any, dsn: str, tmp_path: Path) -> None:
    _store(tmp_path, "sync-busy", 50)
    _migrate(settings, tmp_path, "sync-busy", "sync-run-3")
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended('vectorops:sync:' || 'sync-busy', 0))")
        outcome = _sync(dsn, tmp_path, "sync-busy")
    assert isinstance(outcome, sync_run.SyncFailure) and "being synced by another process" in outcome.error
    assert CollectionBusy.__name__ in outcome.error


def test_sync_of_a_collection_not_migrated_from_the_source_names_what_was(settings: Any, dsn: str,
                                                                           tmp_path: Path) -> None:
    _store(tmp_path, "sync-known", 20)
    _migrate(settings, tmp_path, "sync-known", "sync-run-4")
    with pytest.raises(RequestError, match=r"'nope'.* were not migrated from .*'sync-known'"):
        sync_run.sync_all(dsn, SyncRequest(SourceSpec(path=str(tmp_path)), ("nope",), SCHEMA, 40))


def test_the_cli_prints_the_changes_and_exits_0_in_parity(settings: Any, dsn: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    collection = _store(tmp_path, "sync-cli", 120)
    _migrate(settings, tmp_path, "sync-cli", "sync-run-5")
    collection.delete(ids=["r-00001", "r-00002"])
    assert main(["sync", "--chroma-path", str(tmp_path), "--collection", "sync-cli", "--schema", SCHEMA,
                 "--dsn", dsn]) == 0
    printed = capsys.readouterr().out
    assert "sync-cli → sync_test." in printed and "deleted 2" in printed and "in parity" in printed
    _equal(dsn, tmp_path, "sync-cli")


def test_a_server_source_is_synced_by_a_digest_scan(settings: Any, dsn: str, tmp_path: Path) -> None:
    import chromadb

    from tests.chroma_run import chroma_run

    _store(tmp_path, "sync-server", 400)
    with chroma_run(tmp_path) as port:
        locate.forget_files()
        migrate_in_process(settings, {"chroma_host": "127.0.0.1", "chroma_port": port, "target_schema": SCHEMA,
                                      "collections": ["sync-server"]}, "sync-run-6")
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        collection = client.get_collection("sync-server", embedding_function=None)
        rng = np.random.default_rng(5)
        collection.add(ids=["s-new-1", "s-new-2"], embeddings=rng.standard_normal((2, DIMS), dtype=np.float32))
        collection.update(ids=["r-00003"], metadatas=[{"changed": True}])
        collection.update(ids=["r-00004"], embeddings=rng.standard_normal((1, DIMS), dtype=np.float32))
        collection.delete(ids=["r-00007", "r-00008", "r-00009"])
        spec = SourceSpec(host="127.0.0.1", port=port)
        outcome = sync_run.sync_all(dsn, SyncRequest(spec, ("sync-server",), SCHEMA, 64))[0]
        assert isinstance(outcome, sync_run.SyncResult), outcome
        # the first scan after the migration compares with digests of the table's own rows: only changes apply
        assert (outcome.added, outcome.updated, outcome.deleted) == (2, 2, 3)
        assert outcome.read_point is None and outcome.lag_records is None and outcome.in_parity
        again = sync_run.sync_all(dsn, SyncRequest(spec, ("sync-server",), SCHEMA, 64))[0]
        assert isinstance(again, sync_run.SyncResult)
        assert (again.added, again.updated, again.deleted) == (0, 0, 0) and again.in_parity
    _equal(dsn, tmp_path, "sync-server")


def test_cutover_runs_the_final_sync_verifies_parity_and_stops_syncs(settings: Any, dsn: str, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.quality import gate

    collection = _store(tmp_path, "sync-cutover", 500, space="cosine")
    _migrate(settings, tmp_path, "sync-cutover", "sync-run-7")
    rng = np.random.default_rng(3)
    collection.upsert(ids=["r-00001", "late-1"], embeddings=rng.standard_normal((2, DIMS), dtype=np.float32))
    collection.delete(ids=["r-00002"])
    assert main(["cutover", "--chroma-path", str(tmp_path), "--collection", "sync-cutover", "--schema", SCHEMA,
                 "--dsn", dsn]) == 0
    printed = capsys.readouterr().out
    assert "cut over at read point" in printed and "added 1, updated 1, deleted 1" in printed
    assert "parity passed on 500 rows" in printed, printed
    row = registry_row(dsn, "sync-cutover")
    assert row["sync_state"] == "cut over" and row["cut_over_at"] is not None and row["content_sha256"]
    with psycopg.connect(dsn) as conn:
        window = conn.execute("SELECT kind, status, window_seconds FROM vectorops.sync_runs WHERE collection = %s "
                              "ORDER BY started_at DESC LIMIT 1", ("sync-cutover",)).fetchone()
    assert window is not None and window[:2] == ("cutover", "done") and window[2] > 0
    _equal(dsn, tmp_path, "sync-cutover")
    assert gate.validate_live(settings, "sync-cutover").success  # the new baseline is the table's checksum
    refused = _sync(dsn, tmp_path, "sync-cutover")
    assert isinstance(refused, sync_run.SyncFailure) and "cut over" in refused.error


def test_a_write_during_the_cutover_window_is_caught(settings: Any, dsn: str, tmp_path: Path) -> None:
    from vectorops.chroma.files import reader as files_reader
    from vectorops.errors import SourceChanged
    from vectorops.sync import cutover

    collection = _store(tmp_path, "sync-window", 50)
    _migrate(settings, tmp_path, "sync-window", "sync-run-8")
    files = files_reader.open_collection(tmp_path, "sync-window", "l2")
    point = registry_row(dsn, "sync-window")["read_point"]
    with psycopg.connect(dsn) as conn:
        [target] = select_targets(conn, SourceSpec(path=str(tmp_path)).uri, ("sync-window",), SCHEMA)
    cutover._unchanged(files, target, point)  # nothing written yet
    collection.update(ids=["r-00001"], metadatas=[{"late": True}])
    with pytest.raises(SourceChanged, match="'sync-window' was written during the cutover"):
        cutover._unchanged(files, target, point)


def test_cutover_of_a_server_source_compares_digests_of_every_record(settings: Any, dsn: str,
                                                                      tmp_path: Path) -> None:
    import chromadb

    from tests.chroma_run import chroma_run
    from vectorops.sync.cutover import cutover

    _store(tmp_path, "sync-server-cut", 300)
    with chroma_run(tmp_path) as port:
        locate.forget_files()
        migrate_in_process(settings, {"chroma_host": "127.0.0.1", "chroma_port": port, "target_schema": SCHEMA,
                                      "collections": ["sync-server-cut"]}, "sync-run-9")
        chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            "sync-server-cut", embedding_function=None).delete(ids=["r-00010"])
        spec = SourceSpec(host="127.0.0.1", port=port)
        with psycopg.connect(dsn, autocommit=True) as conn:
            [target] = select_targets(conn, spec.uri, ("sync-server-cut",), SCHEMA)
            result = cutover(conn, spec, target, 64)
    assert result.sync.deleted == 1 and result.rows == 299 and result.window_seconds > 0
    assert registry_row(dsn, "sync-server-cut")["sync_state"] == "cut over"
    _equal(dsn, tmp_path, "sync-server-cut")


def test_a_server_migrated_through_a_connection_is_synced_through_it_by_the_schedule(
        settings: Any, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import chromadb

    from tests.chroma_run import chroma_run
    from vectorops.sync.scheduled import RunParams, job_source, sync_jobs

    _store(tmp_path, "sync-conn", 120)
    with chroma_run(tmp_path) as port:
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_SERVER", json.dumps({"conn_type": "chroma", "host": "127.0.0.1",
                                                                    "port": port}))
        locate.forget_files()
        migrate_in_process(settings, {"chroma_conn": "sync_server", "target_schema": SCHEMA,
                                      "collections": ["sync-conn"]}, "sync-run-10")
        assert registry_row(dsn, "sync-conn")["source_conn_id"] == "sync_server"
        chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            "sync-conn", embedding_function=None).delete(ids=["r-00001"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE vectorops.collection_registry SET sync_state = 'syncing' WHERE collection = %s",
                         ("sync-conn",))
            scheduled = RunParams(None, (), SCHEMA, 50, False)
            [job] = [j for j in sync_jobs(conn, scheduled) if j.collection == "sync-conn"]
            spec = job_source(job, scheduled)
            assert spec.conn_id == "sync_server"
            [target] = select_targets(conn, spec.uri, ("sync-conn",), SCHEMA)
            outcome = sync_run.sync_collection(conn, spec, target, 50)
    assert outcome.deleted == 1 and outcome.in_parity
    _equal(dsn, tmp_path, "sync-conn")
