"""One schema per store service: a service sees only its schema's collections, two schemas each hold their own
``users``, not-found errors name nothing else, and the store creates and drops only tables vectorops created."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.store.conftest import drop_store_schema
from vectorops.chroma.preflight import CollectionRef
from vectorops.naming import table_name_for
from vectorops.store import CollectionNotFound, StoreError
from vectorops.store.postgres import PostgresStore


def _store_key(name: str, schema: str) -> str:
    return f"{name}@{hashlib.sha256(f'store:{schema}'.encode()).hexdigest()[:8]}"


def _rows(dsn: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _table_exists(dsn: str, schema: str, table: str) -> bool:
    return bool(_rows(dsn, "SELECT to_regclass(%s) IS NOT NULL AS present",
                      f'"{schema}"."{table}"')[0]["present"])


@pytest.fixture(scope="module")
def tenants(dsn: str) -> Iterator[dict[str, Any]]:
    """Services ``tenant_a`` and ``tenant_b``, each in a schema of its own; ``tenant_a`` holds ``users`` and
    ``a-only``."""
    tag = uuid.uuid4().hex[:6]
    schemas = {"a": f"tenant_a_{tag}", "b": f"tenant_b_{tag}"}
    stores = {t: PostgresStore(dsn, table_schema=s, service=f"tenant-{t}-{tag}") for t, s in schemas.items()}
    for name in ("users", "a-only"):
        stores["a"].get_or_create_collection(name).add(ids=["a1", "a2"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
                                                       documents=["from a", "also a"])
    yield {"schemas": schemas, "stores": stores}
    for t, store in stores.items():
        store.close()
        drop_store_schema(dsn, schemas[t], store.service)


def test_another_schemas_collection_is_not_found(tenants: dict[str, Any], dsn: str) -> None:
    a, b = tenants["stores"]["a"], tenants["stores"]["b"]
    table = table_name_for("a-only")
    for attempt in (lambda: b.get_collection("a-only").get(),
                    lambda: b.get_collection("a-only").query(query_embeddings=[[1.0, 0.0]], n_results=1),
                    lambda: b.get_collection("a-only").upsert(ids=["b1"], embeddings=[[0.5, 0.5]]),
                    lambda: b.get_collection("a-only").delete(ids=["a1"]),
                    lambda: b.delete_collection("a-only")):
        with pytest.raises(CollectionNotFound) as caught:
            attempt()
        assert str(caught.value) == "Collection [a-only] does not exist"  # no list of other collections
    assert b.list_collections() == []
    assert a.get_collection("a-only").get(include=[])["ids"] == ["a1", "a2"]
    assert _table_exists(dsn, tenants["schemas"]["a"], table)
    assert a.list_collections() == ["a-only", "users"]


def test_not_found_names_only_the_collection(tenants: dict[str, Any]) -> None:
    a = tenants["stores"]["a"]
    with pytest.raises(CollectionNotFound) as caught:
        a.get_collection("nothing-here")
    assert str(caught.value) == "Collection [nothing-here] does not exist"


def test_both_schemas_hold_a_users_collection(tenants: dict[str, Any], dsn: str) -> None:
    a, b = tenants["stores"]["a"], tenants["stores"]["b"]
    schema_a, schema_b = tenants["schemas"]["a"], tenants["schemas"]["b"]
    users_b = b.get_or_create_collection("users", metadata={"team": "b"})
    assert users_b.count() == 0 and users_b.info.schema == schema_b
    users_b.upsert(ids=["a1", "b1"], embeddings=[[0.0, 1.0], [1.0, 1.0]], documents=["from b", "b only"])
    assert sorted(users_b.get(include=[])["ids"]) == ["a1", "b1"]
    assert users_b.query(query_embeddings=[[1.0, 0.0]], n_results=5, include=["documents"])["documents"] == [
        ["b only", "from b"]]
    users_a = a.get_collection("users")
    assert users_a.get(ids=["a1"])["documents"] == ["from a"] and users_a.count() == 2
    rows = {r["table_schema"]: r for r in _rows(
        dsn, """SELECT r.collection_key, r.collection, r.table_schema, r.table_name, r.app_written, s.created_by,
                       s.metadata
                FROM vectorops.collection_registry r
                LEFT JOIN vectorops.store_collections s ON s.collection = r.collection_key
                WHERE r.collection = 'users' AND r.table_schema = ANY(%s)""", [schema_a, schema_b])}
    assert set(rows) == {schema_a, schema_b}
    assert rows[schema_a]["collection_key"] != rows[schema_b]["collection_key"]
    for schema, row in rows.items():
        assert row["collection_key"] in ("users", _store_key("users", schema))
        assert CollectionRef.parse(row["collection_key"]).name == "users"
        assert row["app_written"] is True and row["table_name"] == "users"
    assert rows[schema_b]["created_by"] == b.service and rows[schema_b]["metadata"] == {"team": "b"}
    assert b.get_collection(rows[schema_b]["collection_key"]).count() == 2  # an exact key is accepted too
    key_a = rows[schema_a]["collection_key"]
    if key_a == "users":  # the bare name: B finds its own users by it
        assert b.get_collection(key_a).info.key == rows[schema_b]["collection_key"]
    else:
        with pytest.raises(CollectionNotFound):
            b.get_collection(key_a)  # another schema's key is not found either
    assert b.list_collections() == ["users"]
    b.delete_collection("users")
    assert not _table_exists(dsn, schema_b, "users") and _table_exists(dsn, schema_a, "users")
    assert a.get_collection("users").count() == 2
    assert _rows(dsn, "SELECT 1 FROM vectorops.store_collections WHERE collection = %s",
                 rows[schema_b]["collection_key"]) == []


def test_creating_over_a_foreign_table_changes_nothing(tenants: dict[str, Any], dsn: str) -> None:
    a, schema = tenants["stores"]["a"], tenants["schemas"]["a"]
    name = f"customer_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (x int, note text)").format(sql.Identifier(schema, name)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 'theirs')").format(sql.Identifier(schema, name)))
    with pytest.raises(StoreError) as caught:
        a.get_or_create_collection(name)
    message = str(caught.value)
    assert f"table {schema}.{name} exists and was not created by vectorops" in message and "\n" not in message
    assert _rows(dsn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, name)).as_string()) == [
        {"x": 1, "note": "theirs"}]
    assert _rows(dsn, "SELECT 1 FROM vectorops.collection_registry WHERE collection = %s", name) == []
    assert _rows(dsn, "SELECT 1 FROM vectorops.owned_objects WHERE schema_name = %s AND object_name = %s",
                 schema, name) == []


def test_drop_never_drops_a_table_vectorops_did_not_create(tenants: dict[str, Any], dsn: str) -> None:
    a, schema = tenants["stores"]["a"], tenants["schemas"]["a"]
    name = f"swapped_{uuid.uuid4().hex[:6]}"
    a.get_or_create_collection(name).add(ids=["x"], embeddings=np.ones((1, 2), np.float32))
    owned = "SELECT created_by FROM vectorops.owned_objects WHERE kind = 'table' AND schema_name = %s " \
            "AND object_name = %s"
    assert _rows(dsn, owned, schema, name) == [{"created_by": f"store:{a.service}"}]
    with psycopg.connect(dsn, autocommit=True) as conn:  # someone replaces the table with one of their own
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
        conn.execute(sql.SQL("CREATE TABLE {} (id text, kept boolean)").format(sql.Identifier(schema, name)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES ('theirs', true)").format(sql.Identifier(schema, name)))
    with pytest.raises(StoreError) as caught:
        a.delete_collection(name)
    message = str(caught.value)
    assert message == (f"collection {name!r}: table {schema}.{name} was not created by vectorops, so it is not "
                       "dropped; the collection stays registered")
    assert _rows(dsn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, name)).as_string()) == [
        {"id": "theirs", "kept": True}]
    assert len(_rows(dsn, "SELECT 1 FROM vectorops.collection_registry WHERE collection = %s AND table_schema = %s",
                     name, schema)) == 1


def test_drop_forgets_the_table_it_dropped(tenants: dict[str, Any], dsn: str) -> None:
    a, schema = tenants["stores"]["a"], tenants["schemas"]["a"]
    name = f"dropped_{uuid.uuid4().hex[:6]}"
    a.get_or_create_collection(name)
    a.delete_collection(name)
    assert not _table_exists(dsn, schema, name)
    assert _rows(dsn, "SELECT 1 FROM vectorops.owned_objects WHERE schema_name = %s AND object_name = %s",
                 schema, name) == []
    assert _rows(dsn, "SELECT 1 FROM vectorops.collection_registry WHERE collection = %s", name) == []
    with pytest.raises(CollectionNotFound, match=rf"^Collection \[{name}\] does not exist$"):
        a.delete_collection(name)


def test_a_stale_store_row_does_not_make_a_migrated_collection_app_written(tenants: dict[str, Any],
                                                                             dsn: str) -> None:
    """``app_written`` is the registry row's: a store row left under a key says nothing about a later collection
    registered under it by a migration."""
    a, schema = tenants["stores"]["a"], tenants["schemas"]["a"]
    name = f"was-app-{uuid.uuid4().hex[:6]}"
    a.get_or_create_collection(name, metadata={"old": True})
    table = table_name_for(name)
    with psycopg.connect(dsn, autocommit=True) as conn:  # a migration takes the identity over, as promotion does
        conn.execute("""UPDATE vectorops.collection_registry SET app_written = false, source_uri = 'file:///src',
                        loaded_count = 0 WHERE collection = %s AND table_schema = %s""", (name, schema))
    col = a.get_collection(name)
    assert (col.info.table, col.metadata) == (table, None)
    assert _rows(dsn, "SELECT app_written FROM vectorops.collection_registry WHERE collection = %s", name) == [
        {"app_written": False}]


def test_two_services_creating_one_name_at_once_both_succeed(dsn: str) -> None:
    """Two services, two schemas, the same new name at the same moment: each gets its collection (one under
    ``name@<hex>``), never a duplicate-key error."""
    import threading

    tag = uuid.uuid4().hex[:6]
    name = f"race-{tag}"
    schemas = [f"race_{i}_{tag}" for i in range(2)]
    stores = [PostgresStore(dsn, table_schema=s, service=f"race-{i}-{tag}") for i, s in enumerate(schemas)]
    for store in stores:
        store.list_collections()  # connected and prepared before the race
    barrier, errors = threading.Barrier(2), []

    def create(store: PostgresStore) -> None:
        try:
            barrier.wait()
            store.get_or_create_collection(name).add(ids=["x"], embeddings=[[1.0, 0.0]])
        except BaseException as exc:
            errors.append(exc)

    try:
        for _round in range(3):
            threads = [threading.Thread(target=create, args=(store,)) for store in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert errors == []
            keys = {r["collection_key"] for r in _rows(
                dsn, "SELECT collection_key FROM vectorops.collection_registry WHERE collection = %s", name)}
            assert len(keys) == 2 and name in keys
            for store in stores:
                store.delete_collection(name)
    finally:
        for store, schema in zip(stores, schemas, strict=True):
            store.close()
            drop_store_schema(dsn, schema, store.service)


@pytest.mark.parametrize("schema", ["s" * 64, "", "pg_temp", "Upper", 'x"; drop table y; --'])
def test_a_schema_postgres_would_rename_or_refuse_is_refused_by_name(dsn: str, schema: str) -> None:
    """A name PostgreSQL would truncate (the registry would then hold another name than the table's) or refuse
    is a one-line StoreError naming the setting, before anything connects."""
    with pytest.raises(StoreError, match=r"table_schema.*is not allowed"):
        PostgresStore(dsn, table_schema=schema, service="bad-schema")
