"""HNSW settings pgvector cannot take as they are (issue 26, part 4): the store maps ``hnsw:M`` / construction_ef
when it creates the collection, as the migration does, so that the first add builds its index; the collection's
metadata stays as given (as Chroma keeps it), and the registry and ``info`` hold what was built."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.store.conftest import drop_store_schema
from tests.support import registry_row
from vectorops.store import StoreError
from vectorops.store.chroma import ChromaStore
from vectorops.store.postgres import PostgresStore

DIMS = 8


@pytest.fixture(scope="module")
def indexed_store(dsn: str) -> Iterator[PostgresStore]:
    """A store that searches every table through its index (none is small enough to be searched exactly)."""
    schema = f"hnsw_store_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"test-{schema}", exact_max_rows=0)
    yield store
    store.close()
    drop_store_schema(dsn, schema, store.service)


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIMS)).astype(np.float32)


def _indexdef(dsn: str, schema: str, index: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
                           (schema, index)).fetchone()
    assert row is not None, f"no index {schema}.{index}"
    return str(row[0])


def _add_and_find(collection: Any, n: int = 200) -> None:
    vectors = _vectors(n, 7)
    collection.add(ids=[f"r{i}" for i in range(n)], embeddings=vectors)
    result = collection.query(query_embeddings=vectors[:5], n_results=3)
    assert [ids[0] for ids in result["ids"]] == [f"r{i}" for i in range(5)]
    assert collection.count() == n


@pytest.mark.parametrize(("metadata", "configuration", "source", "built"), [
    ({"hnsw:M": 64, "team": "search"}, None, (64, 100), (64, 128)),
    ({"hnsw:M": 51}, None, (51, 100), (51, 102)),
    ({"hnsw:M": 128}, None, (128, 100), (100, 200)),
    (None, {"hnsw": {"max_neighbors": 128, "ef_construction": 300}}, (128, 300), (100, 300)),
])
def test_a_collection_created_with_hnsw_settings_pgvector_cannot_take_is_built_and_searched(
        indexed_store: PostgresStore, dsn: str, caplog: pytest.LogCaptureFixture, metadata: Any, configuration: Any,
        source: tuple[int, int], built: tuple[int, int]) -> None:
    name = f"hnsw-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.WARNING, logger="vectorops.store.pg_catalog"):
        col = indexed_store.get_or_create_collection(name, metadata=metadata, configuration=configuration)
    assert (f"collection {name!r}: HNSW M {source[0]}, construction_ef {source[1]} (the source's) built as "
            f"m {built[0]}, ef_construction {built[1]}: ") in caplog.text
    _add_and_find(col)
    schema = indexed_store.table_schema
    reg = registry_row(dsn, name)
    assert (reg["hnsw_m"], reg["hnsw_ef_construction"]) == built
    assert (reg["source_hnsw_m"], reg["source_hnsw_ef_construction"]) == source
    assert f"WITH (m='{built[0]}', ef_construction='{built[1]}')" in _indexdef(dsn, schema, reg["index_name"])
    again = indexed_store.get_collection(name)
    assert again.metadata == metadata  # as given, as Chroma returns it
    assert (again.info.m, again.info.ef_construction) == built  # vectorops's own settings: what was built


def test_settings_pgvector_takes_are_built_as_they_are(indexed_store: PostgresStore, dsn: str) -> None:
    name = f"hnsw-{uuid.uuid4().hex[:8]}"
    col = indexed_store.get_or_create_collection(name, metadata={"hnsw:M": 50})
    _add_and_find(col, 50)
    reg = registry_row(dsn, name)
    assert (reg["hnsw_m"], reg["hnsw_ef_construction"], reg["source_hnsw_m"], reg["source_hnsw_ef_construction"]) \
        == (50, 100, 50, 100)


def test_a_setting_chroma_refuses_too_is_refused_at_create(indexed_store: PostgresStore, dsn: str) -> None:
    name = f"hnsw-{uuid.uuid4().hex[:8]}"
    with pytest.raises(StoreError) as refused:
        indexed_store.get_or_create_collection(name, metadata={"hnsw:M": 0})
    assert str(refused.value) == "collection setting max_neighbors=0 must be an integer from 1 to 2147483647"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.collection_registry WHERE collection = %s",
                            (name,)).fetchone() == (0,)


def test_a_collection_recorded_before_the_mapping_is_built_at_its_first_add(indexed_store: PostgresStore,
                                                                             dsn: str) -> None:
    """A collection created by an older store (its M 64 recorded with construction_ef 100, which every add failed
    to build) gets its index at the next add, and the registry then holds what was built."""
    name = f"hnsw-{uuid.uuid4().hex[:8]}"
    indexed_store.get_or_create_collection(name, metadata={"hnsw:M": 64})
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE vectorops.collection_registry SET hnsw_ef_construction = 100 WHERE collection = %s",
                     (name,))
    col = indexed_store.get_collection(name)
    assert (col.info.m, col.info.ef_construction) == (64, 100)
    _add_and_find(col)
    reg = registry_row(dsn, name)
    assert (reg["hnsw_m"], reg["hnsw_ef_construction"], reg["source_hnsw_m"]) == (64, 128, 64)
    assert "WITH (m='64', ef_construction='128')" in _indexdef(dsn, indexed_store.table_schema, reg["index_name"])


def test_pgvector_refuses_what_was_mapped(dsn: str) -> None:
    """The limits the mapping follows are this server's pgvector's."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        schema = f"hnsw_limits_{uuid.uuid4().hex[:8]}"
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            table = sql.Identifier(schema, "t")
            conn.execute(sql.SQL("CREATE TABLE {} (v vector(3))").format(table))
            conn.execute(sql.SQL("INSERT INTO {} VALUES ('[1,2,3]')").format(table))
            for options, message in (("m = 64, ef_construction = 100", "ef_construction must be greater than or "
                                                                        "equal to 2 * m"),
                                     ("m = 101", "value 101 out of bounds"), ("m = 1", "value 1 out of bounds"),
                                     ("ef_construction = 1001", "value 1001 out of bounds")):
                with pytest.raises(psycopg.Error, match=re.escape(message)):
                    conn.execute(sql.SQL("CREATE INDEX ON {} USING hnsw (v vector_l2_ops) WITH ({})").format(
                        table, sql.SQL(options)))
            conn.execute(sql.SQL("CREATE INDEX ON {} USING hnsw (v vector_l2_ops) "
                                 "WITH (m = 100, ef_construction = 200)").format(table))
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_the_chroma_backend_takes_what_chroma_takes(tmp_path: Path) -> None:
    col = ChromaStore(tmp_path).get_or_create_collection("m128", metadata={"hnsw:M": 128})
    _add_and_find(col, 50)
    assert col.metadata == {"hnsw:M": 128}
