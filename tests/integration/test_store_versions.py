"""The files reader reads the store of every Chroma version from 0.4 on exactly as that version's ``get()`` does.

The stores under ``tests/fixtures/stores`` were written by the real chromadb 0.4.24, 0.5.18, 0.6.3, 1.0.21 and
1.5.9 (and a 1.5.9 store with three tenant/database pairs). Each ``expected.json`` holds what that Chroma's own
client returned from a copy: every record (float32 vectors as hex), the space measured from its query distances,
and the HNSW parameters it reported. Here, without Chroma and without PostgreSQL, every collection of every
tenant and database is listed (:mod:`vectorops.chroma.files.catalog`), its settings resolved
(:mod:`vectorops.chroma.settings`) and its records read from the files (:mod:`vectorops.chroma.files.reader`), and
compared bit for bit; the stores are hashed before and after, file by file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vectorops.chroma.files import catalog as files_catalog
from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.files.write_log import log_overlay
from vectorops.chroma.preflight import CollectionRef, check_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
STORES = ["0.4.24", "0.5.18", "0.6.3", "1.0.21", "1.5.9", "1.5.9-tenants"]


def _expected(store: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"chroma-{store}" / "expected.json").read_text())["collections"]


COLLECTIONS = [(store, c["tenant"], c["database"], c["name"]) for store in STORES for c in _expected(store)]


def _hashes(store: Path) -> dict[str, str]:
    """sha256 of every file below ``store`` by relative path: a file written, added or removed changes it."""
    return {str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(store.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of each fixture store (a reader bug must not damage the committed ones), checked unchanged."""
    root = tmp_path_factory.mktemp("store-versions")
    copies = {name: Path(shutil.copytree(FIXTURES / f"chroma-{name}" / "store", root / name)) for name in STORES}
    for name, copy in copies.items():
        assert _hashes(copy) == _hashes(FIXTURES / f"chroma-{name}" / "store")
    return copies


def _entry(store: str, tenant: str, database: str, name: str) -> dict[str, Any]:
    return next(c for c in _expected(store) if (c["tenant"], c["database"], c["name"]) == (tenant, database, name))


def _typed(metadata: dict[str, Any] | None) -> Any:
    """Metadata with each value's type: 1, 1.0 and True compare equal in Python, and must not here."""
    return None if metadata is None else {k: (type(v).__name__, v) for k, v in metadata.items()}


@pytest.mark.parametrize("store", STORES)
def test_every_store_passes_the_read_only_check(stores: dict[str, Path], store: str) -> None:
    before = _hashes(stores[store])
    check_store(stores[store], thorough=True)
    assert _hashes(stores[store]) == before


@pytest.mark.parametrize("store", STORES)
def test_the_catalog_lists_every_collection_of_every_tenant_and_database(stores: dict[str, Path],
                                                                        store: str) -> None:
    before = _hashes(stores[store])
    catalog = files_catalog.read_catalog(stores[store])
    expected = _expected(store)
    assert [(e.ref.tenant, e.ref.database, e.ref.name) for e in catalog] == \
        [(c["tenant"], c["database"], c["name"]) for c in expected]
    for entry, want in zip(catalog, expected, strict=True):
        assert entry.collection_id == want["id"], entry.ref
        assert _typed(entry.metadata or None) == _typed(want["metadata"]), entry.ref
        assert entry.dimension == want["dimension"], entry.ref
    assert _hashes(stores[store]) == before


@pytest.mark.parametrize(("store", "tenant", "database", "name"), COLLECTIONS)
def test_settings_are_those_the_writing_chroma_uses(stores: dict[str, Path], store: str, tenant: str,
                                                   database: str, name: str) -> None:
    want = _entry(store, tenant, database, name)
    entry = files_catalog.find(stores[store], CollectionRef(tenant, database, name))
    assert entry is not None
    settings = entry.settings
    # the space was measured from that Chroma's query distances; an empty collection has none to measure, and every
    # one of them was created without a space (l2)
    assert settings.space == (want["space"] or "l2"), settings.origins
    assert {"M": settings.m, "construction_ef": settings.ef_construction, "search_ef": settings.ef_search} \
        == want["hnsw"], settings.origins


def _read_all(store: Path, ref: CollectionRef, space: str, batch: int) -> dict[str, tuple[Any, ...]]:
    found = files_reader.open_collection(store, ref, space)
    records: dict[str, tuple[Any, ...]] = {}
    with files_reader.StoreReader(found) as reader:
        for ids, positions in files_reader.iter_id_positions(found, batch=batch):
            vectors = reader.vectors(positions.tolist(), ids)
            documents, metadatas, uris = reader.fields(ids)
            for i, record_id in enumerate(ids):
                assert record_id not in records, f"{record_id!r} listed twice"
                records[record_id] = (vectors[i], documents[i], metadatas[i], uris[i])
    return records


@pytest.mark.parametrize(("store", "tenant", "database", "name"), COLLECTIONS)
def test_the_files_reader_returns_exactly_what_that_chroma_returned(stores: dict[str, Path], store: str,
                                                                   tenant: str, database: str, name: str) -> None:
    path, ref, want = stores[store], CollectionRef(tenant, database, name), _entry(store, tenant, database, name)
    before = _hashes(path)
    space = files_catalog.find(path, ref).settings.space  # type: ignore[union-attr]
    records = _read_all(path, ref, space, batch=37)  # pages that split the files' ids and the log's
    assert sorted(records) == sorted(r["id"] for r in want["records"])
    assert len(records) == want["count"]
    for row in want["records"]:
        vector, document, metadata, uri = records[row["id"]]
        assert vector.dtype == np.float32 and vector.astype("<f4").tobytes().hex() == row["embedding"], row["id"]
        assert document == row["document"], row["id"]
        assert _typed(metadata) == _typed(row["metadata"]), row["id"]
        assert uri == row["uri"], row["id"]
    assert _hashes(path) == before, "reading wrote to the store"


@pytest.mark.parametrize("store", STORES)
def test_the_stores_hold_the_hard_cases(stores: dict[str, Path], store: str) -> None:
    """What the exact-read test covers: writes only in the log (adds, updates, deletes), collections never flushed,
    and (in the version stores) an empty one."""
    path = stores[store]
    never_flushed = logged_vectors = logged_deletes = empty = 0
    for entry in files_catalog.read_catalog(path):
        found = files_reader.open_collection(path, entry.ref, entry.settings.space)
        overlay = log_overlay(found)
        never_flushed += found.count > 0 and not found.in_files
        logged_vectors += found.in_files and any(v is not None for v in overlay.values())
        logged_deletes += any(v is None for v in overlay.values())
        empty += found.count == 0
    assert never_flushed and logged_vectors
    if store != "1.5.9-tenants":
        assert logged_deletes and empty
