"""The store on PostgreSQL's side: tables of new collections laid out and registered like migrated ones, the
registry's tables of migrated collections served as they are, and the platform tables created on first use."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.store.conftest import drop_store_schema
from tests.support import chroma_client, migrate_in_process, registry_row
from vectorops.naming import table_name_for
from vectorops.quality.exact_search import ExactTopK
from vectorops.store import CollectionNotFound, StoreError
from vectorops.store.chroma import ChromaStore
from vectorops.store.postgres import PostgresStore


def _columns(dsn: str, schema: str, table: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod), co.collname
                               FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
                                    AND a.attcollation <> 100
                               WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
                               ORDER BY a.attnum""",
                            (sql.Identifier(schema, table).as_string(conn),)).fetchall()


def test_new_collection_layout(pg_store: PostgresStore, dsn: str) -> None:
    name = f"My-Collection.{uuid.uuid4().hex[:6]}"
    col = pg_store.get_or_create_collection(name, metadata={"hnsw:space": "ip", "hnsw:M": 8, "team": "search"})
    table = table_name_for(name)
    assert table != name and col.info.table == table and col.metadata == {"hnsw:space": "ip", "hnsw:M": 8,
                                                                           "team": "search"}
    reg = registry_row(dsn, name)
    assert (reg["table_schema"], reg["table_name"], reg["distance"], reg["dimensions"], reg["hnsw_m"],
            reg["source_count"], reg["loaded_count"], reg["quarantined_count"]) == (
        pg_store.table_schema, table, "ip", None, 8, 0, 0, 0)
    col.add(ids=["x"], embeddings=[[0.1, 0.2, 0.3]])
    assert _columns(dsn, pg_store.table_schema, table) == [("id", "text", "C"), ("embedding", "vector(3)", None),
                                                           ("document", "text", None), ("metadata", "jsonb", None),
                                                           ("uri", "text", None)]
    reg = registry_row(dsn, name)
    assert (reg["dimensions"], reg["index_name"], reg["index_method"]) == (3, f"{table}_hnsw", "hnsw")
    with psycopg.connect(dsn) as conn:
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
                                    "AND tablename = %s", (pg_store.table_schema, table)).fetchall())
        store_row = conn.execute("SELECT metadata, created_by FROM vectorops.store_collections "
                                 "WHERE collection = %s", (name,)).fetchone()
    assert "vector_ip_ops" in indexes[f"{table}_hnsw"] and "m='8'" in indexes[f"{table}_hnsw"]
    assert f"{table}_pkey" in indexes
    assert store_row == ({"hnsw:space": "ip", "hnsw:M": 8, "team": "search"}, pg_store.service)
    assert pg_store.get_or_create_collection(name, metadata={"hnsw:space": "l2"}).space == "ip"  # kept, as Chroma
    assert name in pg_store.list_collections()
    pg_store.delete_collection(name)
    with pytest.raises(CollectionNotFound):
        pg_store.get_collection(name)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{pg_store.table_schema}.{table}",)).fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM vectorops.store_collections WHERE collection = %s",
                            (name,)).fetchone()[0] == 0


def test_unregistered_table_is_not_taken_over(pg_store: PostgresStore, dsn: str) -> None:
    name = f"squatted_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(pg_store.table_schema)))
        conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(pg_store.table_schema, name)))
    with pytest.raises(StoreError, match=rf"table {pg_store.table_schema}\.{name} exists and was not created by "
                                         "vectorops"):
        pg_store.get_or_create_collection(name)
    with pytest.raises(CollectionNotFound):
        pg_store.get_collection(name)


def test_platform_tables_created_on_first_use(dsn: str) -> None:
    database = f"store_fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    fresh = dsn.rsplit("/", 1)[0] + "/" + database
    try:
        store = PostgresStore(fresh, service="fresh")
        col = store.get_or_create_collection("first-one")
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert col.query(query_embeddings=[[1.0, 2.0]], n_results=1, include=["distances"])["distances"] == [[0.0]]
        store.close()
        with psycopg.connect(fresh) as conn:
            assert conn.execute("SELECT to_regclass('vectorops.store_disagreements') IS NOT NULL, "
                                "(SELECT table_schema FROM vectorops.collection_registry)").fetchone() == (
                True, "vectors")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> dict[str, Any]:
    """A 1,500 × 16 cosine collection in Chroma, migrated into a schema of its own."""
    path: Path = tmp_path_factory.mktemp("store-migrated")
    schema = f"store_mig_{uuid.uuid4().hex[:6]}"
    name = "support-tickets"
    rng = np.random.default_rng(9)
    vectors = rng.standard_normal((1500, 16), dtype=np.float32)
    ids = [f"t{i:04d}" for i in range(1500)]
    # in one add: chromadb 1.x takes None entries for records without metadata (add_records adds a batch holding
    # one record by record, 1,500 adds here; what the collection holds is the same)
    chroma_client(path).create_collection(name, configuration={"hnsw": {"space": "cosine"}}).add(
        ids=ids, embeddings=vectors,
        documents=[f"ticket {i} {'refund' if i % 3 == 0 else 'login'}" for i in range(1500)],
        metadatas=[{"priority": i % 4, "score": i / 7, "vip": i % 10 == 1, "tags": ["a", "b"][: 1 + i % 2]}
                   if i % 9 else None for i in range(1500)])
    migrate_in_process(settings, {"chroma_path": str(path), "collections": [name], "target_schema": schema},
                       f"store-{schema}")
    yield {"path": path, "schema": schema, "name": name, "ids": ids, "vectors": vectors, "rng": rng}
    drop_store_schema(dsn, schema)


def test_migrated_table_is_served(migrated: dict[str, Any], dsn: str) -> None:
    pg = PostgresStore(dsn, table_schema=migrated["schema"], service="migrated-test")
    chroma = ChromaStore(migrated["path"])
    try:
        col, source = pg.get_collection(migrated["name"]), chroma.get_collection(migrated["name"])
        assert (col.info.schema, col.info.table, col.space, col.dimensions) == (
            migrated["schema"], table_name_for(migrated["name"]), "cosine", 16)
        assert col.count() == source.count() == 1500
        some = migrated["ids"][::97]
        got = {b: c.get(ids=some, include=["metadatas", "documents", "embeddings"]) for b, c in
               (("postgres", col), ("chroma", source))}
        order = {b: np.argsort(got[b]["ids"]) for b in got}
        for key in ("ids", "metadatas", "documents"):
            assert [got["postgres"][key][i] for i in order["postgres"]] == [got["chroma"][key][i]
                                                                            for i in order["chroma"]]
        np.testing.assert_array_equal(got["postgres"]["embeddings"][order["postgres"]],
                                      got["chroma"]["embeddings"][order["chroma"]])
        queries = migrated["rng"].standard_normal((30, 16), dtype=np.float32)
        top = ExactTopK(queries, "cosine", 10)
        top.add(migrated["ids"], migrated["vectors"])
        truth = top.result()
        answer = col.query(query_embeddings=queries, n_results=10, include=[])["ids"]
        assert sum(len(set(a) & set(t)) for a, t in zip(answer, truth, strict=True)) / 300 >= 0.99
        for where in ({"priority": {"$in": [1, 2]}}, {"$and": [{"vip": True}, {"tags": {"$contains": "b"}}]},
                      {"score": {"$lt": 10}}):
            filtered = {b: c.get(where=where, where_document={"$contains": "refund"}, include=[])["ids"]
                        for b, c in (("postgres", col), ("chroma", source))}
            assert sorted(filtered["postgres"]) == sorted(filtered["chroma"]) and filtered["postgres"], where
        col.upsert(ids=["t0000", "t0001"], embeddings=queries[:2], metadatas=[{"priority": 9}, {"priority": 9}])
        assert col.get(ids=["t0000", "t0001"])["metadatas"] == [  # t0000 had none; t0001's are merged
            {"priority": 9}, {"priority": 9, "score": 1 / 7, "vip": True, "tags": ["a", "b"]}]
    finally:
        pg.close()


def test_registry_row_pointing_nowhere(migrated: dict[str, Any], dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("""INSERT INTO vectorops.collection_registry (collection, table_schema, table_name, distance,
                       source_count, loaded_count, quarantined_count, migrated_at)
                       VALUES ('gone-table', %s, 'gone_table', 'l2', 0, 0, 0, now())""", (migrated["schema"],))
    store = PostgresStore(dsn, table_schema=migrated["schema"], service="gone")
    try:
        with pytest.raises(CollectionNotFound, match=rf"registered at {migrated['schema']}\.gone_table, which does "
                                                     "not exist"):
            store.get_collection("gone-table")
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.collection_registry WHERE collection = 'gone-table'")


def test_two_handles_of_a_new_collection(pg_store: PostgresStore) -> None:
    name = f"late-{uuid.uuid4().hex[:6]}"
    reader = pg_store.get_or_create_collection(name)  # opened before anything fixed the dimension
    writer = pg_store.get_collection(name)
    writer.add(ids=["a", "b"], embeddings=[[0.0, 1.0], [1.0, 0.0]])
    assert reader.query(query_embeddings=[[0.1, 0.9]], n_results=1, include=[])["ids"] == [["a"]]
    pg_store.delete_collection(name)


def test_missing_platform_tables_without_rights(dsn: str) -> None:
    tag = uuid.uuid4().hex[:8]
    database, role = f"store_bare_{tag}", f"store_app_{tag}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'app-pw'").format(sql.Identifier(role)))
    conninfo = psycopg.conninfo.conninfo_to_dict(dsn)
    app_dsn = psycopg.conninfo.make_conninfo(**{**conninfo, "user": role, "password": "app-pw", "dbname": database})
    store = PostgresStore(app_dsn, service="bare")
    try:
        with pytest.raises(StoreError, match=r"lacks extension vector.*vectorops db up"):
            store.get_or_create_collection("anything")
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
