"""The index kinds of a migration (issue 23): each is built as asked, recorded, and searched by the store with
exact distances and good recall; the request refuses an unknown kind; the dry run shows the kind and its knob."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import add_records, chroma_client, forget_collection, forget_schema, migrate_in_process
from vectorops.errors import SettingError
from vectorops.load import index_kinds
from vectorops.migration import dry_run
from vectorops.migration import request as migration_request
from vectorops.store.postgres import PostgresStore

ROWS, DIMS, QUERIES = 3000, 32, 25
INDEXDEF = {"hnsw": "USING hnsw (embedding vector_cosine_ops)",
            "ivfflat": "USING ivfflat (embedding vector_cosine_ops)",
            "hnsw_halfvec": "USING hnsw (((embedding)::halfvec(32)) halfvec_cosine_ops)",
            "hnsw_bit_rerank": "USING hnsw (((binary_quantize(embedding))::bit(32)) bit_hamming_ops)"}


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Clustered unit vectors: an easy index case, so that recall is a fair check of the search path."""
    centres = rng.standard_normal((30, DIMS))
    points = centres[rng.integers(0, 30, n)] + 0.35 * rng.standard_normal((n, DIMS))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


SCHEMAS = [f"kinds_{kind}" for kind in index_kinds.KINDS] + ["kinds_empty", "kinds_tuned"]


@pytest.fixture(scope="module", autouse=True)
def _leave_nothing(dsn: str) -> Any:
    """The module's tables and every platform row of its collections go at its end: later tests see none."""
    yield
    for schema in SCHEMAS:
        forget_schema(dsn, schema)
        for collection in ("kinds", "later"):
            forget_collection(dsn, collection, schema)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("chroma-index-kinds")
    vectors = _vectors(np.random.default_rng(23), ROWS)
    collection = chroma_client(path).create_collection("kinds", configuration={"hnsw": {"space": "cosine"}})
    add_records(collection, [f"k{i:05d}" for i in range(ROWS)], vectors, [f"doc {i}" for i in range(ROWS)],
                [{"i": i, "even": i % 2 == 0} for i in range(ROWS)])
    return path, vectors


def _index_scans(dsn: str, schema: str, index: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = %s AND indexrelname = %s",
                           (schema, index)).fetchone()
    assert row is not None, f"no index {schema}.{index}"
    return int(row[0])


@pytest.mark.parametrize("kind", index_kinds.KINDS)
def test_each_kind_is_built_recorded_and_searched_exactly(kind: str, store_path: tuple[Path, np.ndarray],
                                                          settings: Any, dsn: str) -> None:
    path, vectors = store_path
    schema = f"kinds_{kind}"
    summary, = migrate_in_process(settings, {"chroma_path": str(path), "target_schema": schema, "index": kind,
                                             "previous_table": "keep"}, f"kinds-{kind}")
    assert summary["index"] == kind
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT r.index_name, r.index_method, r.ivfflat_lists, i.indexdef "
                           "FROM vectorops.collection_registry r JOIN pg_indexes i "
                           "ON i.schemaname = r.table_schema AND i.indexname = r.index_name "
                           "WHERE r.table_schema = %s", (schema,)).fetchone()
    assert row is not None
    index_name, method, lists, indexdef = row
    assert (index_name, method) == ("kinds" + index_kinds.index_suffix(kind), kind)
    assert INDEXDEF[kind] in indexdef
    assert lists == (index_kinds.ivfflat_lists(ROWS) if kind == "ivfflat" else None)

    store = PostgresStore(dsn, table_schema=schema, exact_max_rows=0)  # every query through the index
    try:
        before = _index_scans(dsn, schema, index_name)
        queries = vectors[:QUERIES] + np.float32(0.01)
        result = store.get_collection("kinds").query(query_embeddings=queries, n_results=10,
                                                     include=["distances"])
    finally:
        store.close()
    assert _index_scans(dsn, schema, index_name) >= before + QUERIES
    cosine = 1.0 - (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ vectors.T
    found = total = 0
    for q, (ids, distances) in enumerate(zip(result["ids"], result["distances"], strict=True)):
        assert len(ids) == 10
        rows = [int(i[1:]) for i in ids]
        # every distance is the full-precision one, in order, whatever the index holds
        assert np.allclose(distances, cosine[q, rows], atol=1e-5), kind
        assert distances == sorted(distances)
        truth = set(np.argsort(cosine[q], kind="stable")[:10].tolist())
        found += len(truth & set(rows))
        total += 10
    assert found / total >= 0.9, f"{kind}: recall@10 {found / total:.3f}"


def test_an_unknown_kind_is_refused_naming_the_parameter(settings: Any, store_path: tuple[Path, np.ndarray]) -> None:
    with pytest.raises(SettingError, match=r"^index='diskann' is not one of hnsw, ivfflat, hnsw_halfvec, "):
        migration_request.request_from_params({"chroma_path": str(store_path[0]), "index": "diskann"}, settings)


def test_dry_run_names_the_kind_its_lists_and_its_knob(settings: Any, store_path: tuple[Path, np.ndarray]) -> None:
    request = migration_request.request_from_params({"chroma_path": str(store_path[0]), "index": "ivfflat",
                                                     "dry_run": True}, settings)
    plan = dry_run.dry_run_plan(settings, request, "kinds")
    assert plan["index"] == {"kind": "ivfflat", "built": "now", "lists": 3, "knob": "ivfflat.probes", "default": 2}
    assert plan["build_maintenance_work_mem_mb"] == 64


def test_sizing_follows_pgvector_advice() -> None:
    assert [index_kinds.ivfflat_lists(n) for n in (0, 999, 200_000, 1_000_000, 4_000_000)] == [1, 1, 200, 1000, 2000]
    assert [index_kinds.default_probes(n) for n in (1, 3, 4, 200, 1000)] == [1, 2, 2, 15, 32]
    assert index_kinds.probe_ladder(200)[-1] == 200 and index_kinds.probe_ladder(1) == (1,)
    assert index_kinds.default_effort("hnsw", ef_search=40, lists=None, k=100) == 100
    assert index_kinds.default_effort("hnsw_bit_rerank", ef_search=40, lists=None) == index_kinds.DEFAULT_RERANK_DEPTH
    assert index_kinds.search_settings("ivfflat", 7) == (("ivfflat.probes", "7"),
                                                         ("ivfflat.iterative_scan", "relaxed_order"))


def test_an_empty_table_was_not_given_a_kind_it_did_not_ask_for(tmp_path: Path, settings: Any, dsn: str) -> None:
    """Migrated empty with ivfflat: the first write builds IVFFlat, not the store's own HNSW."""
    chroma_client(tmp_path).create_collection("later", configuration={"hnsw": {"space": "cosine"}})
    migrate_in_process(settings, {"chroma_path": str(tmp_path), "target_schema": "kinds_empty",
                                  "index": "ivfflat"}, "kinds-empty")
    store = PostgresStore(dsn, table_schema="kinds_empty", exact_max_rows=0)
    try:
        collection = store.get_collection("later")
        vectors = _vectors(np.random.default_rng(5), 1500)
        collection.add(ids=[f"l{i}" for i in range(1500)], embeddings=vectors)
        result = collection.query(query_embeddings=vectors[:3], n_results=5)
    finally:
        store.close()
    assert [ids[0] for ids in result["ids"]] == ["l0", "l1", "l2"]
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT r.index_name, r.index_method, r.ivfflat_lists, i.indexdef "
                           "FROM vectorops.collection_registry r JOIN pg_indexes i ON i.schemaname = r.table_schema "
                           "AND i.indexname = r.index_name WHERE r.table_schema = 'kinds_empty'").fetchone()
    assert row is not None and row[:3] == ("later_ivf", "ivfflat", 1) and "USING ivfflat" in row[3]


def test_a_table_keeps_one_vector_index_when_the_kind_changes(dsn: str) -> None:
    """A rerun with another kind (an adopted shadow table) drops the first kind's index; another table's index of
    that name is not touched."""
    from vectorops.load.indexing import IndexSpec, build_index

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS kinds_swap CASCADE")
        conn.execute("CREATE SCHEMA kinds_swap")
        conn.execute("CREATE TABLE kinds_swap.t (id text PRIMARY KEY, embedding vector(8))")
        conn.execute("INSERT INTO kinds_swap.t SELECT i::text, array_fill(i::real, ARRAY[8])::vector "
                     "FROM generate_series(1, 50) i")
        spec = IndexSpec(schema="kinds_swap", table="t", index_name="t_ivf", space="l2", dimensions=8, rows=50,
                         m=16, ef_construction=64, cap_mb=64, kind="ivfflat")
        build_index(conn, spec)
        build_index(conn, IndexSpec(**{**spec.__dict__, "index_name": "t_hnsw", "kind": "hnsw_bit_rerank"}))
        names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'kinds_swap' "
                                            "AND tablename = 't' ORDER BY 1")]
        assert names == ["t_hnsw", "t_pkey"]
        # the other kind's name on another table: not this table's index, not dropped
        conn.execute("CREATE TABLE kinds_swap.u (embedding vector(8))")
        conn.execute("CREATE INDEX t_ivf ON kinds_swap.u USING ivfflat (embedding vector_l2_ops) WITH (lists = 1)")
        build_index(conn, IndexSpec(**{**spec.__dict__, "index_name": "t_hnsw", "kind": "hnsw"}))
        assert conn.execute("SELECT to_regclass('kinds_swap.t_ivf') IS NOT NULL").fetchone() == (True,)
        conn.execute("DROP SCHEMA kinds_swap CASCADE")


def test_the_store_searches_at_the_lists_built_and_the_monitors_advice(store_path: tuple[Path, np.ndarray],
                                                                       settings: Any, dsn: str) -> None:
    """After maintenance changed an IVFFlat index's lists, the store reads them from the catalog; an advice of the
    monitor for the table's knob is what the store searches at."""
    from vectorops.store import pg_catalog

    migrate_in_process(settings, {"chroma_path": str(store_path[0]), "target_schema": "kinds_tuned",
                                  "index": "ivfflat", "previous_table": "keep"}, "kinds-tuned")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert pg_catalog.require_table(conn, "kinds", "kinds_tuned").search_effort(10) == 2  # ⌈√3⌉
        conn.execute("ALTER INDEX kinds_tuned.kinds_ivf SET (lists = 16)")
        info = pg_catalog.require_table(conn, "kinds", "kinds_tuned")
        assert (info.lists, info.search_effort(10)) == (16, 4)
        conn.execute("INSERT INTO vectorops.index_health (table_schema, table_name, index_name, advised_ef_search, "
                     "advised_recall, advised_at, search_knob) VALUES ('kinds_tuned', 'kinds', 'kinds_ivf', 9, 0.97, "
                     "now(), 'ivfflat.probes') ON CONFLICT (table_schema, table_name) DO UPDATE SET "
                     "advised_ef_search = 9, search_knob = 'ivfflat.probes'")
        assert pg_catalog.require_table(conn, "kinds", "kinds_tuned").search_effort(10) == 9


def test_an_empty_index_value_is_refused_not_taken_for_the_default(settings: Any,
                                                                    store_path: tuple[Path, np.ndarray]) -> None:
    with pytest.raises(SettingError, match=r"^index='' is not one of"):
        migration_request.request_from_params({"chroma_path": str(store_path[0]), "index": ""}, settings)


def test_a_backup_of_halfvec_and_bit_indexes_carries_no_code(dsn: str, settings: Any,
                                                             store_path: tuple[Path, np.ndarray]) -> None:
    """Their index expressions call the extension vector's functions (vector_to_halfvec, binary_quantize), which a
    dump does not carry: a backup's restore check allows them, and still flags a schema's own function."""
    from vectorops.backup.verify import code_failures

    for kind in ("hnsw_halfvec", "hnsw_bit_rerank"):
        schema = f"kinds_{kind}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass(%s)", (f"{schema}.kinds",)).fetchone() == (None,):
                migrate_in_process(settings, {"chroma_path": str(store_path[0]), "target_schema": schema,
                                              "index": kind, "previous_table": "keep"}, f"kinds-code-{kind}")
            assert code_failures(conn, [schema]) == [], kind
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS kinds_code CASCADE")
        conn.execute("CREATE SCHEMA kinds_code")
        conn.execute("CREATE TABLE kinds_code.t (embedding vector(4))")
        conn.execute("CREATE FUNCTION kinds_code.f(v vector) RETURNS vector LANGUAGE sql IMMUTABLE AS 'SELECT v'")
        conn.execute("CREATE INDEX t_code ON kinds_code.t ((kinds_code.f(embedding) IS NULL))")
        failures = code_failures(conn, ["kinds_code"])
        conn.execute("DROP SCHEMA kinds_code CASCADE")
    objects = failures[0]["observed"]["objects"]
    assert any("index kinds_code.t_code" in o and "which is not in pg_catalog nor of the extension vector" in o
               for o in objects), objects
