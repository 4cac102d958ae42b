"""Hostile records: each is loaded exactly or quarantined with its original payload, through both readers.

Covers what ``tests/integration/test_migration_fidelity.py`` does not: 1 MB documents and metadata values,
wide metadata and long keys, NUL in a metadata key or a uri, non-finite, negative-zero and 64-bit metadata (Chroma
takes them and hands back what it stored), 5,000-character ids (multi-byte, and ones that do not compress: a
PostgreSQL btree entry holds at most 2,704 bytes). Chroma refuses lone surrogates, nested or empty metadata and
non-finite vectors at write time, so no store holds them; ``tests/unit/test_records.py`` covers those values.
"""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import (
    chroma_client,
    chroma_digest,
    chroma_records,
    forget_collection,
    forget_schema,
    migrate_in_process,
    pg_digest,
    record_line,
    registry_row,
)
from vectorops.chroma import locate
from vectorops.naming import table_name_for

COLLECTION = "hostile-records"
DIMS = 4


def _incompressible(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits + "αβγδεжзий日本語") for _ in range(length))


Record = tuple[str | None, dict[str, Any] | None, str | None]
#: id → (document, metadata, uri); every record gets a random vector
RECORDS: dict[str, Record] = {
    "plain": ("a document", {"n": 1}, "s3://b/plain"),
    "doc-1mb": ("d" * 400_000 + _incompressible(600_000, 1), {"size": "1MB"}, None),
    "doc-1mb-multibyte": ("日本語" * 120_000, None, None),
    "meta-2000-keys": (None, {f"k{i:04d}": (i, f"v{i}", i / 7)[i % 3] for i in range(2000)}, None),
    "meta-1mb-value": (None, {"big": _incompressible(1_000_000, 2)}, None),
    "meta-long-key": (None, {"k" * 5000: 1, "ok": True}, None),
    "meta-long-list": (None, {"ints": list(range(500)), "strs": [f"s{i}" for i in range(500)]}, None),
    "meta-nul-key": ("doc", {"a\x00b": 1}, None),
    "uri-nul": ("doc", {"m": 1}, "s3://b/\x00"),
    "meta-neg-zero": (None, {"z": -0.0, "tiny": 5e-324}, None),
    "meta-big-int": (None, {"i": 2**63 - 1, "j": -(2**63)}, None),
    "id-" + "0123456789" * 499 + "z": ("long id", {"n": 2}, None),
    "é" * 5000: ("long multi-byte id", None, None),
}
#: a 5,000-character id that does not compress: 6,000 bytes, more than a btree entry holds
INCOMPRESSIBLE_ID = "id-" + _incompressible(4997, 3)
#: what PostgreSQL cannot hold, whatever the reader
MUST_QUARANTINE = {"meta-nul-key", "uri-nul"}
#: Chroma takes non-finite metadata, stores the value as SQL NULL and leaves the key out of ``get()``; the files
#: reader refuses such a store (it cannot tell what Chroma returns), so ``auto`` reads it through the API
NON_FINITE = "non-finite-meta"
NON_FINITE_RECORDS: dict[str, Record] = {
    "meta-nan": ("doc", {"nan": math.nan, "keep": 1}, None),
    "meta-inf": (None, {"inf": math.inf, "ninf": -math.inf}, "s3://b/inf"),
    "meta-nan-only": (None, {"nan": math.nan}, None),
}


def _forget(dsn: str, schema: str, collections: list[str]) -> None:
    forget_schema(dsn, schema)
    for name in collections:
        forget_collection(dsn, name, schema)


def _write_collection(path: Path, name: str, records: dict[str, Record]) -> None:
    # a small sync threshold: Chroma writes the segment files the files reader reads
    collection = chroma_client(path).create_collection(
        name, configuration={"hnsw": {"space": "cosine", "sync_threshold": 4, "batch_size": 4}})
    rng = np.random.default_rng(7)
    for record_id, (document, metadata, uri) in records.items():  # one by one: a None metadata is no metadata
        collection.add(ids=[record_id], embeddings=rng.standard_normal((1, DIMS), dtype=np.float32),
                       documents=[document] if document is not None else None,
                       metadatas=[metadata] if metadata is not None else None,
                       uris=[uri] if uri is not None else None)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-records")
    _write_collection(path, COLLECTION, RECORDS)
    _write_collection(path, NON_FINITE, NON_FINITE_RECORDS)
    return path


@pytest.fixture(scope="module", params=["auto", "api"])
def migrated(request: pytest.FixtureRequest, store: Path, settings: Any, dsn: str) -> Iterator[dict[str, Any]]:
    reader = request.param
    schema = f"hostile_records_{reader}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(locate.READER_ENV, reader)
        try:
            migrate_in_process(settings, {"chroma_path": str(store), "target_schema": schema, "batch_size": 5},
                               f"hostile-records-{reader}")
            with psycopg.connect(dsn) as conn:
                stamps = dict(conn.execute(
                    """SELECT r.collection, m.source_stamp IS NOT NULL FROM vectorops.collection_registry r
                       JOIN vectorops.migration_runs m ON m.attempt_id = r.last_attempt_id
                       WHERE r.table_schema = %s""", (schema,)).fetchall())
            yield {"reader": reader, "schema": schema, "from_files": stamps}
        finally:
            _forget(dsn, schema, [COLLECTION, NON_FINITE])


def _quarantined(dsn: str, collection: str) -> dict[str, tuple[str, dict[str, Any]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""SELECT q.reason, q.payload FROM vectorops.quarantine q
                               JOIN vectorops.collection_registry r
                                 ON r.collection = q.collection AND r.last_attempt_id = q.attempt_id
                               WHERE q.collection = %s""", (collection,)).fetchall()
    payloads = [(reason, json.loads(bytes(payload))) for reason, payload in rows]
    return {payload["id"]: (reason, payload) for reason, payload in payloads}


def _check_collection(store: Path, dsn: str, schema: str, collection: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """loaded + quarantined = source, loaded rows are exact, quarantined ones keep their original payload."""
    source = {r[0]: r for r in chroma_records(store, collection)}
    row = registry_row(dsn, collection)
    assert row["table_schema"] == schema
    assert row["source_count"] == len(source)
    assert row["loaded_count"] + row["quarantined_count"] == row["source_count"]
    quarantined = _quarantined(dsn, collection)
    assert len(quarantined) == row["quarantined_count"]
    for record_id, (reason, payload) in quarantined.items():
        assert reason, record_id
        assert record_line(payload["id"], payload["embedding"], payload["document"], payload["metadata"],
                           payload["uri"]) == record_line(*source[record_id]), f"payload of {record_id[:40]!r}"
    loaded = chroma_digest(store, collection, exclude=set(quarantined))
    assert pg_digest(dsn, schema, table_name_for(collection)) == loaded
    assert loaded[1] == row["loaded_count"]
    return quarantined


def test_hostile_records_are_loaded_exactly_or_quarantined(migrated: dict[str, Any], store: Path, dsn: str) -> None:
    assert migrated["from_files"][COLLECTION] is (migrated["reader"] == "auto")
    quarantined = _check_collection(store, dsn, migrated["schema"], COLLECTION)
    assert MUST_QUARANTINE <= set(quarantined)
    assert "metadata key" in quarantined["meta-nul-key"][0] and "NUL" in quarantined["meta-nul-key"][0]
    assert "uri contains a NUL" in quarantined["uri-nul"][0]
    unexpected = set(quarantined) - MUST_QUARANTINE
    assert not unexpected, f"quarantined what PostgreSQL can hold: {sorted(i[:40] for i in unexpected)}"


def test_non_finite_metadata_arrives_as_chroma_returns_it(migrated: dict[str, Any], store: Path, dsn: str) -> None:
    # its records are still only in Chroma's log (fewer than sync_threshold): the files reader now reads them
    # from there too (the auto reader), and either reader must return exactly what Chroma's get() returns
    assert migrated["from_files"][NON_FINITE] is (migrated["reader"] == "auto")
    assert not _check_collection(store, dsn, migrated["schema"], NON_FINITE)


@pytest.mark.parametrize("reader", ["auto", "api"])
def test_an_incompressible_5000_character_id_is_quarantined_with_its_payload(tmp_path: Path, settings: Any, dsn: str,
                                                                             reader: str) -> None:
    name, schema = "incompressible-ids", f"hostile_records_ids_{reader}"
    _write_collection(tmp_path, name, {"short": ("doc", None, None), INCOMPRESSIBLE_ID: ("doc", {"n": 1}, None),
                                       "é" * 5000: ("compressible", None, None)})
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(locate.READER_ENV, reader)
            migrate_in_process(settings, {"chroma_path": str(tmp_path), "target_schema": schema}, f"ids-{reader}")
        quarantined = _check_collection(tmp_path, dsn, schema, name)
        assert set(quarantined) == {INCOMPRESSIBLE_ID}
        reason = quarantined[INCOMPRESSIBLE_ID][0]
        assert f"{len(INCOMPRESSIBLE_ID.encode()):,} bytes" in reason and "primary key" in reason, reason
        assert registry_row(dsn, name)["loaded_count"] == 2
    finally:
        _forget(dsn, schema, [name])
