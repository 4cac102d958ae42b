"""The monitor and maintenance on every index kind (issue 23), against the real server: recall@10 and p95 through an
IVFFlat, a halfvec HNSW and a bit HNSW index with re-ranking, advice on the kind's knob, and an IVFFlat rebuild with
the lists its rows call for."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.support import forget_collection, forget_schema
from vectorops.load import index_kinds, indexing, shadow
from vectorops.maintenance import executor

SCHEMA = "mon_kinds"
ROWS, DIMS = 3000, 32
COLORS = ("red", "green", "blue", "amber")
KINDS = {"kinds-ivf": "ivfflat", "kinds-half": "hnsw_halfvec", "kinds-bits": "hnsw_bit_rerank"}
GROWING = "kinds-ivf-grow"  # an IVFFlat table maintenance rebuilds (a table of its own: it is written to)
REGISTRY_EF_SEARCH = 100


def _table(collection: str) -> str:
    return collection.replace("-", "_")


def _create(conn: psycopg.Connection, collection: str, kind: str, vectors: np.ndarray) -> None:
    """A live table as a migration leaves it: recorded as vectorops's, loaded, indexed in ``kind``, registered."""
    table = _table(collection)
    shadow.create_schema(conn, SCHEMA, "test")
    shadow.create_shadow(conn, SCHEMA, table, DIMS)
    target = sql.Identifier(SCHEMA, table)
    conn.execute(sql.SQL("ALTER TABLE {} SET LOGGED").format(target))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} (id, embedding, document, metadata) FROM STDIN").format(
            target)) as copy:
        for i, vector in enumerate(vectors):
            copy.write_row((f"r{i:05d}", "[" + ",".join(f"{x:.7f}" for x in vector) + "]", f"doc {i}",
                            json.dumps({"color": COLORS[i % 4], "n": i})))
    shadow.add_primary_key(conn, SCHEMA, table)
    build = indexing.build_index(conn, indexing.IndexSpec(
        SCHEMA, table, table + index_kinds.index_suffix(kind), "l2", DIMS, len(vectors), 16, 64, 256, kind))
    assert build.method == kind and build.index_name
    conn.execute("DELETE FROM vectorops.collection_registry WHERE collection_key = %s OR "
                 "(table_schema = %s AND table_name = %s)", (collection, SCHEMA, table))
    conn.execute("""INSERT INTO vectorops.collection_registry (collection_key, collection, table_schema, table_name,
                        dimensions, distance, source_count, loaded_count, quarantined_count, migrated_at, index_name,
                        index_method, hnsw_m, hnsw_ef_construction, hnsw_ef_search, last_attempt_id, ivfflat_lists)
                    VALUES (%s, %s, %s, %s, %s, 'l2', %s, %s, 0, now(), %s, %s, 16, 64, %s, %s, %s)""",
                 (collection, collection, SCHEMA, table, DIMS, len(vectors), len(vectors), build.index_name,
                  build.method, REGISTRY_EF_SEARCH, f"attempt-{collection}", build.lists))


@pytest.fixture(scope="module")
def tables(settings: Any, dsn: str) -> Iterator[None]:
    """The three kinds' tables (3,000 random unit vectors of 32 dimensions, 4 colours) and a 2,000-row IVFFlat one."""
    rng = np.random.default_rng(23)
    vectors = rng.standard_normal((ROWS, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    forget_schema(dsn, SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for collection, kind in KINDS.items():
            _create(conn, collection, kind, vectors)
        _create(conn, GROWING, "ivfflat", vectors[:2000])
    yield
    for collection in (*KINDS, GROWING):
        forget_collection(dsn, collection, SCHEMA)
    forget_schema(dsn, SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM vectorops.search_probes WHERE table_schema = %s", (SCHEMA,))


def _row(dsn: str, query: str, *args: Any) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, args).fetchone()
    assert row is not None, (query, args)
    return row


@pytest.mark.parametrize("collection", list(KINDS))
def test_each_kind_is_measured_through_its_index_and_advised_on_its_knob(
        tables: None, settings: Any, dsn: str, collection: str) -> None:
    from vectorops.monitor import format_measurements, monitor_table

    kind, table = KINDS[collection], _table(collection)
    index = table + index_kinds.index_suffix(kind)
    knob = index_kinds.KNOBS[kind]
    m = monitor_table(settings, collection, f"kinds-{collection}")
    row = _row(dsn, "SELECT * FROM vectorops.search_metrics WHERE collection = %s AND run_id = %s", collection,
               f"kinds-{collection}")
    lists = index_kinds.ivfflat_lists(ROWS) if kind == "ivfflat" else None
    assert (row["search_knob"], row["index_name"], row["index_used"], row["probes"]) == (knob, index, True, 50)
    assert row["details"]["index_kind"] == kind and row["details"]["ivfflat_lists"] == lists
    assert row["ef_search"] == index_kinds.default_effort(kind, ef_search=REGISTRY_EF_SEARCH, lists=lists)
    assert f"Index Scan using {index}" in row["details"]["plan"]  # explain finds the index, re-ranked or not
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert 0 < row["recall_at_10"] <= 1
    # the advice walks the kind's own ladder and reaches the target
    ladder = {"ivfflat": index_kinds.probe_ladder(lists or 1), "hnsw_halfvec": (16, 24, 40, 64, 100, 160, 250, 400,
                                                                               640, 1000),
              "hnsw_bit_rerank": index_kinds.RERANK_LADDER}[kind]
    assert [int(v) for v in row["details"]["knob_ladder"]] == list(ladder[:len(row["details"]["knob_ladder"])])
    assert row["advised_ef_search"] in ladder and row["advised_recall"] >= settings.monitor.min_recall
    assert row["details"]["advice"].startswith(f"the smallest {knob} reaching recall@10")
    health = _row(dsn, "SELECT * FROM vectorops.index_health WHERE table_schema = %s AND table_name = %s",
                  SCHEMA, table)
    assert (health["search_knob"], health["advised_ef_search"]) == (knob, row["advised_ef_search"])
    # filtered probes go through the index with the kind's iterative scan
    assert row["filter"] in [{"color": c} for c in COLORS] and row["details"]["filter_index_used"] is True
    assert row["filtered_recall_at_10"] is not None and row["details"]["filtered_short_results"] == 0
    line = format_measurements([m])[2]
    assert line.startswith(collection) and f" {knob:14} {row['ef_search']:>5} " in line
    if kind == "hnsw_halfvec":  # the ef_search override applies to the kinds searched at hnsw.ef_search only
        low = dataclasses.replace(settings, monitor=dataclasses.replace(settings.monitor, ef_search=12))
        assert monitor_table(low, collection, "kinds-low").ef_search == 12


def test_an_ivfflat_table_grown_past_its_lists_is_rebuilt_with_the_lists_its_rows_call_for(
        tables: None, settings: Any, dsn: str) -> None:
    table = _table(GROWING)
    index = f"{table}_ivf"
    target = sql.Identifier(SCHEMA, table)
    with psycopg.connect(dsn, autocommit=True) as conn:  # 2,000 → 8,000 rows: 2 lists built, 8 called for
        for copy_no in range(3):
            conn.execute(sql.SQL("INSERT INTO {0} (id, embedding, document, metadata) SELECT id || %s, embedding, "
                                 "document, metadata FROM {0} WHERE id NOT LIKE '%%-%%'").format(target),
                         (f"-{copy_no}",))
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute(sql.SQL("ANALYZE {}").format(target))  # the live row count exact, whatever stats flush late
    with executor.connect(settings) as conn:
        (table_plan,) = executor.plan(conn, settings, [GROWING])
        vector = table_plan.state.vector_index
        assert vector is not None and (vector.method, vector.lists, vector.owned) == ("ivfflat", 2, True)
        (rebuild,) = [a for a in table_plan.actions if a.kind == "reindex"]
        assert table_plan.state.live_rows == 8000
        assert (rebuild.index, rebuild.lists, rebuild.vector_index) == (index, 8, True)
        assert "the IVFFlat index was built on 2,000 rows and the table now has 8,000" in rebuild.reason
        assert "the IVFFlat index has 2 lists and the table's 8,000 rows call for 8" in rebuild.reason
        results = executor.run_plan(conn, table_plan, "kinds-maint")
        assert [r.status for r in results if r.action.kind == "reindex"] == ["done"], [r.error for r in results]
        (done,) = [r for r in results if r.action.kind == "reindex"]
        assert (done.details["lists_before"], done.details["lists"]) == (2, 8)
        options = conn.execute("""SELECT c.reloptions, a.amname, x.indisvalid FROM pg_class c
                                  JOIN pg_am a ON a.oid = c.relam JOIN pg_index x ON x.indexrelid = c.oid
                                  WHERE c.oid = to_regclass(%s)""", (sql.Identifier(SCHEMA, index).as_string(conn),)
                               ).fetchone()
        assert options == (["lists=8"], "ivfflat", True)
        (after,) = executor.plan(conn, settings, [GROWING])
    assert [a.kind for a in after.actions if a.kind == "reindex"] == []
    # the bit and halfvec HNSW indexes are expression indexes, and HNSW indexes to maintenance
    with executor.connect(settings) as conn:
        bits, half = executor.plan(conn, settings, ["kinds-bits", "kinds-half"])
    assert bits.state.vector_index is not None and half.state.vector_index is not None
    assert (bits.state.vector_index.method, bits.state.vector_index.bits) == ("hnsw", True)
    assert (half.state.vector_index.method, half.state.vector_index.bits) == ("hnsw", False)
    assert "halfvec" in (half.state.vector_index.expression or "")
