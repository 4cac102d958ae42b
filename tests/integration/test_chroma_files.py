"""The files reader (``vectorops.chroma.files.reader``) against Chroma's own API, on real Chroma stores.

Collections are created with a small HNSW ``sync_threshold`` so that Chroma persists its segment files after a
few writes, as it does after 1,000 with its defaults.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest
from vectorops.chroma import locate, source
from vectorops.chroma.files import hnsw_pickle
from vectorops.chroma.files import reader as files_reader
from vectorops.errors import FilesUnreadable
from vectorops.naming import table_name_for

SYNC = 50
VALUES: list[dict[str, Any] | None] = [
    {"int": 1, "float": 1.0, "bool": True, "zero_f": 0.0, "neg": -7, "sum": 0.1 + 0.2},
    {"big": 2**62 + 1, "tiny": 1e-300, "huge": 1.5e300, "f": False},
    {"empty": "", "unicode": "naïve — ✓ 日本", "quote": 'a"b\\c'},
    {"list_s": ["z", "", "a"], "list_i": [3, 1, 2**60], "list_f": [2.5, 1.0], "list_b": [True, False]},
    None,
]


def _flushed(collection: Any, path: Path, space: str, rng: np.random.Generator, dims: int) -> None:
    """Add filler records one by one until every write is in the segment files (none left in the log)."""
    for i in range(2 * SYNC):
        try:
            if not files_reader.log_overlay(files_reader.open_collection(path, collection.name, space)):
                return
        except FilesUnreadable:
            pass
        collection.add(ids=[f"filler-{i}"], embeddings=rng.standard_normal((1, dims), dtype=np.float32),
                           documents=[f"filler {i}"], metadatas=[{"filler": i}])
    raise AssertionError(f"collection {collection.name!r} never flushed its log")


def _store(path: Path, name: str, space: str, dims: int = 12, n: int = 400, flush: bool = True) -> None:
    client = chroma_client(path)
    collection = client.create_collection(
        name, configuration={"hnsw": {"space": space, "sync_threshold": SYNC, "batch_size": SYNC}})
    rng = np.random.default_rng(7)
    ids = [f"{name}-{i:04d}" for i in range(n)]
    vectors = rng.standard_normal((n, dims), dtype=np.float32)
    vectors[5] = 0.0  # a zero vector (cosine stores it with norm 0)
    documents: list[str | None] = [f"doc {i} ✓" if i % 7 else None for i in range(n)]
    documents[3] = ""
    metadatas = [VALUES[i % len(VALUES)] for i in range(n)]
    uris: list[str | None] = [f"s3://b/{i}" if i % 3 == 0 else None for i in range(n)]
    add_records(collection, ids, vectors, documents, metadatas, uris)
    collection.delete(ids=ids[10:30])
    collection.upsert(ids=ids[30:40], embeddings=rng.standard_normal((10, dims), dtype=np.float32),
                      documents=[f"upserted {i}" for i in range(10)], metadatas=[{"v": 2}] * 10)
    collection.update(ids=ids[40:45], metadatas=[{"updated": True}] * 5)
    if flush:
        _flushed(collection, path, space, rng, dims)
    else:  # writes after the last flush stay in Chroma's log: an add, an upsert of a flushed record, a delete
        collection.add(ids=["late-add"], embeddings=rng.standard_normal((1, dims), dtype=np.float32))
        collection.upsert(ids=[ids[50]], embeddings=rng.standard_normal((1, dims), dtype=np.float32))
        collection.delete(ids=[ids[60]])


def _all_from_files(path: Path, name: str, space: str) -> dict[str, tuple[np.ndarray, Any, Any, Any]]:
    found = files_reader.open_collection(path, name, space)
    records: dict[str, tuple[np.ndarray, Any, Any, Any]] = {}
    with files_reader.StoreReader(found) as reader:
        for ids, positions in files_reader.iter_id_positions(found, batch=97):
            vectors = reader.vectors(positions.tolist(), ids)
            documents, metadatas, uris = reader.fields(ids)
            for i, record_id in enumerate(ids):
                records[record_id] = (vectors[i], documents[i], metadatas[i], uris[i])
    return records


@pytest.mark.parametrize(("space", "flush"), [("cosine", True), ("l2", True), ("ip", True), ("cosine", False),
                                              ("l2", False)])
def test_files_reader_returns_exactly_what_chroma_get_returns(tmp_path: Path, space: str, flush: bool) -> None:
    name = f"files-{space}"
    _store(tmp_path, name, space, flush=flush)
    found = files_reader.open_collection(tmp_path, name, space)
    assert bool(files_reader.log_overlay(found)) is not flush  # the unflushed store has writes in the log
    from_files = _all_from_files(tmp_path, name, space)
    got = chroma_client(tmp_path).get_collection(name).get(include=["embeddings", "documents", "metadatas", "uris"])
    assert sorted(from_files) == sorted(got["ids"])
    assert len(got["ids"]) >= 380  # 400 added, 20 deleted, fillers or a late add added, maybe one deleted
    for i, record_id in enumerate(got["ids"]):
        vector, document, metadata, uri = from_files[record_id]
        assert np.asarray(got["embeddings"][i], dtype=np.float32).tobytes() == vector.tobytes(), record_id
        assert (document, uri) == (got["documents"][i], got["uris"][i]), record_id
        assert metadata == got["metadatas"][i], record_id
        if metadata:  # 1, 1.0 and True compare equal in Python: the types must match too
            assert {k: type(v) for k, v in metadata.items()} == {k: type(v) for k, v in got["metadatas"][i].items()}


@pytest.mark.parametrize("space", ["cosine", "l2"])
def test_a_never_flushed_collection_is_read_from_the_log(tmp_path: Path, space: str) -> None:
    collection = chroma_client(tmp_path).create_collection("pending", configuration={"hnsw": {"space": space}})
    rng = np.random.default_rng(11)
    add_records(collection, [f"p{i}" for i in range(5)], rng.standard_normal((5, 4), dtype=np.float32),
                documents=["a", None, "", "d", "e"], metadatas=[{"i": 1}, None, {"f": 1.0}, {"b": True}, None])
    collection.delete(ids=["p3"])
    found = files_reader.open_collection(tmp_path, "pending", space)
    assert not found.in_files and found.count == 4  # no HNSW files yet: every vector is in the log
    from_files = _all_from_files(tmp_path, "pending", space)
    got = chroma_client(tmp_path).get_collection("pending").get(include=["embeddings", "documents", "metadatas"])
    assert sorted(from_files) == sorted(got["ids"]) == ["p0", "p1", "p2", "p4"]
    for i, record_id in enumerate(got["ids"]):
        vector, document, metadata, _ = from_files[record_id]
        assert np.asarray(got["embeddings"][i], dtype=np.float32).tobytes() == vector.tobytes(), record_id
        assert (document, metadata) == (got["documents"][i], got["metadatas"][i]), record_id


def test_ids_holding_a_nul_or_any_unicode_are_read(tmp_path: Path) -> None:
    collection = chroma_client(tmp_path).create_collection(
        "odd-ids", configuration={"hnsw": {"space": "cosine", "sync_threshold": 10, "batch_size": 10}})
    ids = [f"bad\x00id-{i}" if i % 2 else f"日本-🚀-{i}" for i in range(25)]  # the last 5 stay in the log
    rng = np.random.default_rng(5)
    add_records(collection, ids, rng.standard_normal((25, 4), dtype=np.float32), documents=[f"d{i}" for i in range(25)],
                metadatas=[{"i": i} for i in range(25)])
    from_files = _all_from_files(tmp_path, "odd-ids", "cosine")
    got = chroma_client(tmp_path).get_collection("odd-ids").get(include=["embeddings", "documents", "metadatas"])
    assert sorted(from_files) == sorted(got["ids"]) == sorted(ids)
    for i, record_id in enumerate(got["ids"]):
        vector, document, metadata, _ = from_files[record_id]
        assert np.asarray(got["embeddings"][i], dtype=np.float32).tobytes() == vector.tobytes(), record_id
        assert (document, metadata) == (got["documents"][i], got["metadatas"][i]), record_id


def _future_header(path: Path, name: str, space: str) -> None:
    """A header.bin of a persistence version this reader does not know (what a future hnswlib might write)."""
    header = files_reader.open_collection(path, name, space).segment_dir / "header.bin"
    header.write_bytes((2).to_bytes(4, "little") + header.read_bytes()[4:])


def test_unreadable_files_are_refused_and_auto_falls_back_to_the_api(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _store(tmp_path, "pending", "l2", n=120)
    _future_header(tmp_path, "pending", "l2")  # a copy made for the test: Chroma's own files, of a newer format
    with pytest.raises(FilesUnreadable, match=r"header.bin is persistence version 2"):
        files_reader.open_collection(tmp_path, "pending", "l2")
    spec = source.SourceSpec(path=str(tmp_path))
    locate.forget_files()
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "auto")
    assert locate.store_files(spec, "pending", "l2") is None
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "files")
    with pytest.raises(source.SourceError, match=r"VECTOROPS_CHROMA_READER=files.*'pending'"):
        locate.store_files(spec, "pending", "l2")
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "fast")
    with pytest.raises(ValueError, match="VECTOROPS_CHROMA_READER='fast'"):
        locate.store_files(spec, "pending", "l2")


def test_migration_reads_the_files_and_matches_the_source(settings: Any, dsn: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "files")
    locate.forget_files()
    _store(tmp_path, "files-migrated", "cosine", dims=16, n=600)
    summary = migrate_in_process(settings, {"chroma_path": str(tmp_path), "target_schema": "files_test",
                                            "collections": ["files-migrated"]}, "files-run-1")[0]
    assert summary["validation"] == "passed"
    with psycopg.connect(dsn) as conn:
        stamp = conn.execute("SELECT source_stamp FROM vectorops.migration_runs WHERE run_id = 'files-run-1'"
                             ).fetchone()
    assert stamp is not None and stamp[0] is not None  # staged from the files, not through the API
    assert summary["quarantined"] == 1  # the zero vector: no cosine distance
    assert pg_digest(dsn, "files_test", table_name_for("files-migrated")) == chroma_digest(
        tmp_path, "files-migrated", exclude={"files-migrated-0005"})


def test_a_write_between_staging_and_loading_is_loaded_or_counted_behind(settings: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.db import runtime
    from vectorops.migration import request as migration_request
    from vectorops.migration import steps

    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "files")
    settings = dataclasses.replace(settings, chunk_rows=80)
    locate.forget_files()
    _store(tmp_path, "files-changing", "l2", n=200)
    request = migration_request.request_from_params(
        {"chroma_path": str(tmp_path), "target_schema": "files_test", "collections": ["files-changing"]}, settings)
    plan = steps.prepare(settings, request, "files-changing", "files-run-2")
    assert len(plan.chunks) == 3
    collection = chroma_client(tmp_path).get_collection("files-changing")
    at_read_point = set(collection.get(include=[])["ids"])
    staged = len(at_read_point)
    rng = np.random.default_rng(3)
    for i in range(SYNC):  # enough writes for Chroma to rewrite the segment files
        collection.add(ids=[f"late-{i}"], embeddings=rng.standard_normal((1, 12), dtype=np.float32))
    collection.update(ids=["files-changing-0004"], documents=["written before its chunk loaded"],
                      embeddings=rng.standard_normal((1, 12), dtype=np.float32))
    collection.delete(ids=["files-changing-0002", "files-changing-0150"])
    results = [steps.load(settings, plan, chunk_no) for chunk_no in plan.chunks]
    assert sum(r["gone"] for r in results) == 2  # deleted after the read point: not loaded, counted
    collection.update(ids=["files-changing-0001"], documents=["written after its chunk loaded"],
                      embeddings=rng.standard_normal((1, 12), dtype=np.float32))
    collection.delete(ids=["files-changing-0003"])
    summary = steps.finalize(settings, plan)
    # behind: the late adds and both updates (written after the read point), and the three deletes since it
    assert summary["changes_behind"] == SYNC + 2 + 3
    assert summary["status"] == f"promoted, {SYNC + 5} changes behind"
    assert (summary["read"], summary["loaded"], summary["gone"]) == (staged, staged - 2, 3)
    assert summary["written_after_read_point"] == 1  # the record updated after its load differs, and passes
    dsn = runtime.dsn(settings)
    table = table_name_for("files-changing")
    with psycopg.connect(dsn) as conn:
        registry = conn.execute(
            "SELECT read_point, read_point_at IS NOT NULL, sync_state, changes_behind, source_count, loaded_count "
            "FROM vectorops.collection_registry WHERE table_name = %s AND table_schema = 'files_test'",
            (table,)).fetchone()
        documents = dict(conn.execute(sql.SQL("SELECT id, document FROM {} WHERE id = ANY(%s)").format(
            sql.Identifier("files_test", table)), (["files-changing-0001", "files-changing-0004"],)).fetchall())
    assert registry is not None and registry[0] > 0 and registry[1:] == (True, "migrated", SYNC + 5, staged - 2,
                                                                    staged - 2)
    # nothing is lost: a record is in the table as its chunk read it, at the read point or later
    assert documents == {"files-changing-0001": "doc 1 ✓", "files-changing-0004": "written before its chunk loaded"}
    with psycopg.connect(dsn) as conn:
        ids = {r[0] for r in conn.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier("files_test", table)))}
    assert ids == at_read_point - {"files-changing-0002", "files-changing-0150"}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_stream_reads_id_to_label_as_pickle_does(tmp_path: Path, protocol: int) -> None:
    mapping = {f"id-{i}-{'é' * (i % 3)}": i * 7 for i in range(2500)} | {"x" * 300: 2**40, "": 0}
    data = {"dimensionality": None, "total_elements_added": len(mapping), "max_seq_id": None,
            "id_to_label": mapping, "label_to_id": {v: k for k, v in mapping.items()}, "id_to_seq_id": {}}
    path = tmp_path / "index_metadata.pickle"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    with path.open("rb") as handle:
        assert dict(hnsw_pickle.PickleStream(handle).id_to_label()) == pickle.loads(path.read_bytes())["id_to_label"]


def test_pickle_stream_refuses_objects(tmp_path: Path) -> None:
    path = tmp_path / "index_metadata.pickle"
    path.write_bytes(pickle.dumps({"max_seq_id": None, "id_to_label": {"a": Path("/etc"), "b": 1}}, protocol=3))
    with path.open("rb") as handle, pytest.raises(FilesUnreadable, match="opcode"):
        dict(hnsw_pickle.PickleStream(handle).id_to_label())
