"""Hostile collection names (property-based): every object lands in the target schema, under a unique name.

Names are Chroma-legal (``tests.support.chroma_names``): SQL reserved words, dots, dashes, case-only differences,
512 characters, names that fold alike, and names that end like our own suffixes. A migration of such collections
must create its tables, indexes and constraints in the target schema only, one set per collection, and leave
every other schema exactly as it was, including tables named like its own in other schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb.errors
import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hyp_settings
from psycopg import sql

from tests.support import (
    chroma_client,
    chroma_digest,
    chroma_legal,
    colliding_chroma_names,
    forget_collection,
    forget_schema,
    migrate_in_process,
    pg_digest,
    registry_row,
)
from vectorops.naming import table_name_for

SCHEMA = "hostile_names"
BYSTANDERS = ("hostile_names_bystander", "public")
HARD_NAMES = ["select", "SELECT", "docs", "docs_pkey", "a-b", "a_b", "Z" * 512, "z" * 511 + "9"]

CATALOG = sql.SQL(r"""
    SELECT 'relation', n.nspname, c.relname, c.relkind::text || c.relnatts || c.relpersistence::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname <> {schema} AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'toast of', n.nspname, c.relname, t.relname
    FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname <> {schema} AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'constraint', n.nspname, k.conname, k.contype::text
    FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname <> {schema}
    UNION ALL
    SELECT 'type', n.nspname, y.typname, y.typtype::text
    FROM pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace
    WHERE n.nspname <> {schema} AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'function', n.nspname, p.proname, p.prokind::text
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname <> {schema}
    UNION ALL
    SELECT 'schema', nspname, '', '' FROM pg_namespace
    WHERE nspname <> {schema} AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
    UNION ALL
    SELECT 'extension', extname, extversion, '' FROM pg_extension
""").format(schema=sql.Literal(SCHEMA))
#: the indexes a default migration gives a table: its primary key and its HNSW index (``--index hnsw``)
DEFAULT_INDEXES = ("_pkey", "_hnsw")


def _catalog(conn: psycopg.Connection) -> list[tuple[str, ...]]:
    """Every relation, toast table, constraint, type, function, schema and extension outside the target schema."""
    return sorted(conn.execute(CATALOG).fetchall())


@pytest.fixture(scope="module")
def bystanders(dsn: str) -> Iterator[None]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(BYSTANDERS[0])))
    yield
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(BYSTANDERS[0])))


def _store(path: Path, names: list[str]) -> None:
    client = chroma_client(path)
    rng = np.random.default_rng(len(names))
    for name in names:
        collection = client.create_collection(name)  # Chroma's own validation: the names are legal
        collection.add(ids=[f"{name[:20]}-1", f"{name[:20]}-2"], embeddings=rng.standard_normal((2, 3), np.float32),
                       documents=[name, None], metadatas=[{"name": name}, None])


def _add_bystanders(conn: psycopg.Connection, tables: list[str]) -> list[tuple[str, str]]:
    """A table named like each target table in every other schema (where none exists yet), with a row that must
    survive."""
    added = []
    for schema in BYSTANDERS:
        for table in tables:
            target = sql.Identifier(schema, table)
            if conn.execute("SELECT to_regclass(%s)", (target.as_string(conn),)).fetchone() == (None,):
                conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, note text)").format(target))
                conn.execute(sql.SQL("INSERT INTO {} VALUES ('kept', %s)").format(target), (f"{schema}.{table}",))
                added.append((schema, table))
    return added


def _drop_bystanders(dsn: str, added: list[tuple[str, str]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema, table in added:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))


def _objects_in_schema(conn: psycopg.Connection) -> dict[str, Any]:
    relations = conn.execute("""SELECT c.relname, c.relkind::text FROM pg_class c
                                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s""",
                             (SCHEMA,)).fetchall()
    constraints = conn.execute("""SELECT k.conname, c.relname, k.contype::text FROM pg_constraint k
                                  JOIN pg_class c ON c.oid = k.conrelid
                                  JOIN pg_namespace n ON n.oid = k.connamespace
                                  WHERE n.nspname = %s AND c.relnamespace = n.oid""", (SCHEMA,)).fetchall()
    indexes = conn.execute("""SELECT i.relname, t.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                              JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = i.relnamespace
                              WHERE n.nspname = %s""", (SCHEMA,)).fetchall()
    return {"relations": relations, "constraints": constraints, "indexes": indexes}


@hyp_settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=colliding_chroma_names(max_size=2))
@example(names=HARD_NAMES)
def test_objects_stay_in_the_target_schema_with_unique_names(names: list[str], settings: Any, dsn: str,
                                                               tmp_path_factory: pytest.TempPathFactory,
                                                               bystanders: None) -> None:
    tables = [table_name_for(n) for n in names]
    assert len(set(tables)) == len(names)
    path = tmp_path_factory.mktemp("hostile-names")
    _store(path, names)
    added: list[tuple[str, str]] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            added = _add_bystanders(conn, tables)
            before = _catalog(conn)
        migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA}, "hostile-names")
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert _catalog(conn) == before, "a migration created, changed or dropped something outside its schema"
            assert {t for s, t in added if s == BYSTANDERS[0]} == set(tables)
            for schema, table in added:
                rows = conn.execute(sql.SQL("SELECT id, note FROM {}").format(sql.Identifier(schema, table)))
                assert rows.fetchall() == [("kept", f"{schema}.{table}")]
            found = _objects_in_schema(conn)
        expected = {(t, "r") for t in tables} | {(t + s, "i") for t in tables for s in DEFAULT_INDEXES}
        assert {r for r in found["relations"] if r[1] in "ri"} == expected
        assert {r[1] for r in found["relations"]} <= {"r", "i"}
        # PostgreSQL 18 also records NOT NULL constraints, named after the shadow table the column was made in
        assert sorted(c[:2] for c in found["constraints"] if c[2] != "n") == sorted((f"{t}_pkey", t) for t in tables)
        assert {c[1] for c in found["constraints"]} == set(tables)
        assert sorted(found["indexes"]) == sorted((t + s, t) for t in tables for s in DEFAULT_INDEXES)
        for name, table in zip(names, tables, strict=True):
            row = registry_row(dsn, name, SCHEMA)
            assert (row["table_schema"], row["table_name"], row["loaded_count"]) == (SCHEMA, table, 2)
            assert pg_digest(dsn, SCHEMA, table) == chroma_digest(path, name)
    finally:
        forget_schema(dsn, SCHEMA)
        for name in names:
            forget_collection(dsn, name, SCHEMA)
        _drop_bystanders(dsn, added)


@pytest.mark.parametrize("name", ["ab", "a" * 513, "a..b", "1.2.3.4", "_ab", "ab-", "-ab", "a b", "é12", "a/b",
                                  *HARD_NAMES, "01.2.3.4", "1.2.3", "a.-b"])
def test_the_legal_names_of_the_strategy_are_chromas(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    client = chroma_client(tmp_path_factory.mktemp("chroma-names"))
    try:
        client.create_collection(name)
        accepted = True
    except (ValueError, chromadb.errors.ChromaError):
        accepted = False
    assert accepted == chroma_legal(name), name
