"""Collections of the real fixture stores located in their files, for every release family; and what is refused."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.unit.chroma.files.conftest import FIXTURES, VERSIONS
from vectorops.chroma.files.layout import (
    StoreCollection,
    connect_readonly,
    current_stamp,
    has_documents,
    open_collection,
)
from vectorops.chroma.preflight import CollectionRef
from vectorops.errors import FilesUnreadable

# the log position each main collection's HNSW files hold (tests/fixtures/stores/README.md, "pending")
APPLIED = {"0.4.24": (288, 603, 918), "0.5.18": (300, 615, 930), "0.6.3": (300, 615, 930),
           "1.0.21": (307, 622, 937), "1.5.9": (307, 622, 937)}
MAIN = ("cos_docs", "l2_docs", "ip_docs")


def _expected(version: str) -> dict[tuple[str, str, str], dict[str, object]]:
    data = json.loads((FIXTURES / f"chroma-{version}" / "expected.json").read_text())
    return {(c["tenant"], c["database"], c["name"]): c for c in data["collections"]}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_collection_is_located_with_chromas_own_count(stores: Path, version: str) -> None:
    root = stores / f"chroma-{version}" / "store"
    for (tenant, database, name), expected in _expected(version).items():
        found = open_collection(root, CollectionRef(tenant, database, name), "cosine")
        assert (found.count, found.dimensions, found.collection_id) == \
            (expected["count"], expected["dimension"] or 0, expected["id"]), name
        assert found.ref == CollectionRef(tenant, database, name)
        assert found.writer == ("python" if version.startswith("0.") else "rust")
        assert found.sqlite_path == root / "chroma.sqlite3" and found.segment_dir.parent == root
        documents = any(r.get("document") is not None for r in expected["records"])  # type: ignore[attr-defined]
        assert has_documents(found) is documents, name


@pytest.mark.parametrize("version", VERSIONS)
def test_flushed_collections_are_in_files_up_to_their_log_position(stores: Path, version: str) -> None:
    root = stores / f"chroma-{version}" / "store"
    for name, applied in zip(MAIN, APPLIED[version], strict=True):
        found = open_collection(root, name, "l2")
        assert found.in_files and found.header is not None and found.vector_applied == applied, name
        assert found.batch_size == (20 if version.startswith("0.") else 100)  # 0.x: the segment's hnsw:batch_size
    for name in ("tiny", "empty"):  # never flushed: every vector is in the log
        found = open_collection(root, name, "l2")
        assert (found.in_files, found.header, found.vector_applied) == (False, None, 0), name


def test_another_tenants_collection(stores: Path) -> None:
    root = stores / "chroma-1.5.9-tenants" / "store"
    prod = open_collection(root, CollectionRef("acme", "prod", "docs"), "l2")
    default = open_collection(root, "docs", "cosine")
    assert (prod.count, default.count) == (45, 60) and prod.collection_id != default.collection_id
    assert prod.topic_pattern == f"%/{prod.collection_id}"
    with pytest.raises(FilesUnreadable, match="'docs' is not in tenant 'acme', database 'staging'"):
        open_collection(root, CollectionRef("acme", "staging", "docs"), "l2")


def test_the_stamp_is_stable_and_changes_with_the_files(stores: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    shutil.copytree(stores / "chroma-1.5.9" / "store", root)
    found = open_collection(root, "cos_docs", "cosine")
    assert open_collection(root, "cos_docs", "cosine").stamp == found.stamp == current_stamp(found)
    assert open_collection(root, "l2_docs", "l2").stamp != found.stamp
    data = found.segment_dir / "data_level0.bin"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert current_stamp(found) != found.stamp
    shutil.rmtree(root)
    assert current_stamp(found) == "unreadable"


def test_no_store_here(tmp_path: Path) -> None:
    with pytest.raises(FilesUnreadable, match=r"has no chroma\.sqlite3"):
        open_collection(tmp_path, "docs", "l2")


def test_an_unknown_collection(stores: Path) -> None:
    with pytest.raises(FilesUnreadable, match="'nope' is not in tenant 'default_tenant'"):
        open_collection(stores / "chroma-0.6.3" / "store", "nope", "l2")


def _writable_copy(stores: Path, tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(stores / "chroma-1.5.9" / "store", root)
    return root


def test_a_reserved_metadata_key_is_refused_unless_unchecked(stores: Path, tmp_path: Path) -> None:
    root = _writable_copy(stores, tmp_path)
    found = open_collection(root, "l2_docs", "l2")
    with sqlite3.connect(root / "chroma.sqlite3") as conn:
        conn.execute("""UPDATE embedding_metadata SET key = 'chroma:secret'
                        WHERE rowid = (SELECT m.rowid FROM embedding_metadata m JOIN embeddings e ON e.id = m.id
                                       WHERE e.segment_id = ? AND m.key NOT LIKE 'chroma:%' LIMIT 1)""",
                     (found.metadata_segment,))
    conn.close()
    with pytest.raises(FilesUnreadable, match="metadata key 'chroma:secret' is reserved"):
        open_collection(root, "l2_docs", "l2")
    assert open_collection(root, "l2_docs", "l2", check_values=False).count == found.count
    # the scan meets the odd row of l2_docs, which is not another collection's problem
    assert open_collection(root, "ip_docs", "ip").count > 0


def test_a_collection_without_its_two_segments_is_refused(stores: Path, tmp_path: Path) -> None:
    root = _writable_copy(stores, tmp_path)
    found = open_collection(root, "tiny", "l2")
    with sqlite3.connect(root / "chroma.sqlite3") as conn:
        conn.execute("DELETE FROM segments WHERE id = ?", (found.vector_segment,))
    conn.close()
    with pytest.raises(FilesUnreadable, match="not one local HNSW and one SQLite metadata segment"):
        open_collection(root, "tiny", "l2")


def test_the_readonly_connection_cannot_write(stores: Path) -> None:
    conn = connect_readonly(stores / "chroma-1.5.9" / "store" / "chroma.sqlite3")
    try:
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
            conn.execute("CREATE TABLE written (x)")
    finally:
        conn.close()


def test_store_collection_defaults_to_the_default_tenant() -> None:
    found = StoreCollection(path=Path("/s"), name="n", collection_id="c", space="l2", dimensions=2, count=0,
                            metadata_segment="m", segment_dir=Path("/s/seg"), header=None, stamp="x")
    assert found.ref == CollectionRef("default_tenant", "default_database", "n")
    assert found.vector_segment == "seg" and not found.in_files
