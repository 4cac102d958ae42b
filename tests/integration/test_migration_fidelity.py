"""Exact round trip from real Chroma stores into the real embedded PostgreSQL + pgvector."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.naming import table_name_for

METADATA_CASES: list[dict[str, Any] | None] = [
    {"int": 1, "float": 1.0, "bool": True, "zero_f": 0.0, "neg": -7},
    {"big": 2**62 + 1, "beyond_2_53": 2**53 + 1, "f16": 1e16, "tiny": 1e-300, "huge": 1.5e300},
    {"empty": "", "unicode": "naïve — ✓ 日本", "quote": 'a"b\\c'},
    {"list_s": ["a", "", "c"], "list_i": [1, 2, 2**60], "list_f": [1.0, 2.5], "list_b": [True, False]},
    None,
    {"one": 1, "one_f": 1.0, "true": True, "one_s": "1"},
]


def _hostile_store(path: Path) -> dict[str, set[str]]:
    """Build the fidelity store; returns the ids each collection must quarantine."""
    client = chroma_client(path)
    rng = np.random.default_rng(11)
    quarantined: dict[str, set[str]] = {}

    main = client.create_collection("My-Collection.v2",
                                    configuration={"hnsw": {"space": "cosine", "max_neighbors": 12,
                                                            "ef_construction": 80}})
    n = 60
    ids = [f"rec-{i:03d}" for i in range(n)]
    ids[7] = "x" * 5000
    ids[8] = "bad\x00id"
    docs: list[str | None] = [f"document {i}" for i in range(n)]
    docs[3] = ""
    docs[4] = None
    docs[9] = "nul\x00document"
    metas = [METADATA_CASES[i % len(METADATA_CASES)] for i in range(n)]
    metas[10] = {"k": "nul\x00value"}
    uris: list[str | None] = [f"s3://bucket/{i}" if i % 3 == 0 else None for i in range(n)]
    add_records(main, ids, rng.standard_normal((n, 8), dtype=np.float32), docs, metas, uris)
    quarantined["My-Collection.v2"] = {"bad\x00id", ids[9], ids[10]}

    for name, space, dims in (("select", "l2", 4), ("a-b", "ip", 6), ("a_b", "l2", 6), ("A_B", "cosine", 6)):
        col = client.create_collection(name, configuration={"hnsw": {"space": space}})
        add_records(col, [f"{name}-{i}" for i in range(25)], rng.standard_normal((25, dims), dtype=np.float32),
                    [f"{name} doc {i}" for i in range(25)], [{"i": i} for i in range(25)])
        quarantined[name] = set()

    big = client.create_collection("big_one", metadata={"hnsw:space": "l2"})
    add_records(big, [f"b{i:05d}" for i in range(2500)], rng.standard_normal((2500, 16), dtype=np.float32),
                [f"big {i}" for i in range(2500)], [{"n": i, "half": i / 2} for i in range(2500)])
    quarantined["big_one"] = set()

    client.create_collection("empty_one")
    quarantined["empty_one"] = set()
    return quarantined


@pytest.fixture(scope="module")
def migrated(settings: Any, dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("chroma-fidelity")
    expected = _hostile_store(path)
    small_chunks = dataclasses.replace(settings, chunk_rows=1000)
    summaries = migrate_in_process(small_chunks, {"chroma_path": str(path), "batch_size": 300,
                                                  "target_schema": "fidelity"}, "fidelity-run")
    return {"path": path, "expected": expected, "summaries": {s["collection"]: s for s in summaries}}


def test_every_collection_arrives_with_counts_that_add_up(migrated: dict[str, Any], dsn: str) -> None:
    assert set(migrated["summaries"]) == set(migrated["expected"])
    for name, must_quarantine in migrated["expected"].items():
        row = registry_row(dsn, name)
        assert row["loaded_count"] + row["quarantined_count"] == row["source_count"], name
        assert row["quarantined_count"] == len(must_quarantine), name
        assert row["table_schema"] == "fidelity"
        assert row["table_name"] == table_name_for(name)


def test_sha256_round_trip_is_exact(migrated: dict[str, Any], dsn: str) -> None:
    for name, must_quarantine in migrated["expected"].items():
        source = chroma_digest(migrated["path"], name, exclude=must_quarantine)
        target = pg_digest(dsn, "fidelity", table_name_for(name))
        assert source == target, f"{name}: source {source} != target {target}"


def test_metadata_types_and_nulls_survive(migrated: dict[str, Any], dsn: str) -> None:
    table = table_name_for("My-Collection.v2")
    with psycopg.connect(dsn) as conn:
        rows = dict(conn.execute(psycopg.sql.SQL("SELECT id, metadata FROM {}").format(
            psycopg.sql.Identifier("fidelity", table))).fetchall())
    assert rows["rec-004"] is None  # no metadata in the source: NULL, not {}
    big = rows["rec-001"]
    assert big["big"] == 2**62 + 1 and type(big["big"]) is int
    assert big["beyond_2_53"] == 2**53 + 1
    assert big["f16"] == 1e16 and type(big["f16"]) is float
    assert big["tiny"] == 1e-300 and big["huge"] == 1.5e300
    mixed = rows["rec-005"]
    assert [type(mixed[k]) for k in ("one", "one_f", "true", "one_s")] == [int, float, bool, str]
    assert rows["rec-002"]["empty"] == ""
    assert rows["rec-003"]["list_i"] == [1, 2, 2**60]
    assert rows["rec-003"]["list_b"] == [True, False]
    assert rows["rec-000"]["float"] == 1.0 and type(rows["rec-000"]["float"]) is float


def test_unstorable_records_are_quarantined_with_their_original_payload(migrated: dict[str, Any], dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""SELECT record_id, reason, payload FROM vectorops.quarantine q
                               JOIN vectorops.collection_registry r
                                 ON r.collection = q.collection AND r.last_attempt_id = q.attempt_id
                               WHERE q.collection = 'My-Collection.v2' ORDER BY record_id""").fetchall()
    payloads = {json.loads(bytes(p))["id"]: (rid, reason, json.loads(bytes(p))) for rid, reason, p in rows}
    assert set(payloads) == migrated["expected"]["My-Collection.v2"]
    rid, reason, payload = payloads["bad\x00id"]
    assert rid == "bad\\u0000id" and "id contains a NUL" in reason
    assert payload["document"] == "document 8" and len(payload["embedding"]) == 8
    _, reason, payload = payloads["rec-009"]
    assert "document contains a NUL" in reason and payload["document"] == "nul\x00document"
    _, reason, payload = payloads["rec-010"]
    assert "metadata" in reason and payload["metadata"] == {"k": "nul\x00value"}
    assert migrated["summaries"]["My-Collection.v2"]["quarantined_ids"]


def test_hostile_and_colliding_names_get_distinct_quoted_tables(migrated: dict[str, Any], dsn: str) -> None:
    names = ["select", "a-b", "a_b", "A_B", "My-Collection.v2"]
    tables = {table_name_for(n) for n in names}
    assert len(tables) == len(names)
    with psycopg.connect(dsn) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'fidelity'")}
    assert tables <= present
    assert "select" in present  # a reserved word works because every identifier is quoted


def test_index_opclass_and_parameters_follow_the_chroma_space(migrated: dict[str, Any], dsn: str) -> None:
    expected = {"My-Collection.v2": ("vector_cosine_ops", "m='12'", "ef_construction='80'"),
                "select": ("vector_l2_ops", "m='16'", "ef_construction='100'"),
                "a-b": ("vector_ip_ops",), "A_B": ("vector_cosine_ops",), "big_one": ("vector_l2_ops",)}
    with psycopg.connect(dsn) as conn:
        for name, fragments in expected.items():
            table = table_name_for(name)
            row = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'fidelity' AND indexname = %s",
                               (f"{table}_hnsw",)).fetchone()
            assert row is not None, f"no HNSW index for {name}"
            for fragment in (*fragments, "USING hnsw"):
                assert fragment in row[0], f"{name}: {fragment} not in {row[0]}"
            pkey = conn.execute("SELECT 1 FROM pg_indexes WHERE schemaname = 'fidelity' AND indexname = %s",
                                (f"{table}_pkey",)).fetchone()
            assert pkey is not None


def test_large_collection_spans_several_fetch_batches_and_chunks(migrated: dict[str, Any], dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        chunks = conn.execute("""SELECT count(*), sum(row_count) FROM vectorops.migration_chunks c
                                 JOIN vectorops.collection_registry r ON r.last_attempt_id = c.attempt_id
                                 WHERE r.collection = 'big_one'""").fetchone()
    assert chunks == (3, 2500)
    assert migrated["summaries"]["big_one"]["loaded"] == 2500


def test_empty_collection_gets_a_table_and_waits_for_its_index(migrated: dict[str, Any], dsn: str) -> None:
    row = registry_row(dsn, "empty_one")
    assert (row["source_count"], row["loaded_count"], row["dimensions"], row["index_method"]) == (0, 0, None, "none")
    with psycopg.connect(dsn) as conn:
        count = conn.execute("SELECT count(*) FROM fidelity.empty_one").fetchone()
    assert count == (0,)


def test_remigration_keeps_previous_table_and_converges(migrated: dict[str, Any], settings: Any, dsn: str) -> None:
    path = migrated["path"]
    before = pg_digest(dsn, "fidelity", table_name_for("select"))
    migrate_in_process(settings, {"chroma_path": str(path), "collections": ["select"], "target_schema": "fidelity"},
                       "fidelity-rerun")
    assert pg_digest(dsn, "fidelity", table_name_for("select")) == before
    assert pg_digest(dsn, "fidelity", table_name_for("select") + "__prev") == before
    with psycopg.connect(dsn) as conn:
        shadows = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'fidelity' "
                               "AND tablename LIKE '%%shadow%%'").fetchone()
        claims = conn.execute("SELECT count(*) FROM vectorops.collection_claims WHERE collection = ANY(%s)",
                              (list(migrated["expected"]),)).fetchone()
    assert shadows == (0,) and claims == (0,)
