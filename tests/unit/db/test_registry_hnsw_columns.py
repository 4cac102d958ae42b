"""The registry's source_hnsw_* columns (issue 26) arrive on an existing install without touching its rows' values:
each row gets, once, the HNSW settings it recorded as its source's (both were the source's until then), and a
rerun of the DDL changes nothing."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support import fresh_database
from vectorops.db.sql_files import sql_text


def _rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT collection, hnsw_m, hnsw_ef_construction, source_hnsw_m, source_hnsw_ef_construction "
                        "FROM vectorops.collection_registry ORDER BY collection").fetchall()


def _insert(conn: psycopg.Connection, name: str, m: int, ef: int) -> None:
    conn.execute("INSERT INTO vectorops.collection_registry (collection, table_schema, table_name, distance, "
                 "source_count, loaded_count, quarantined_count, migrated_at, hnsw_m, hnsw_ef_construction) "
                 "VALUES (%s, 'vectors', %s, 'l2', 0, 0, 0, now(), %s, %s)", (name, name, m, ef))


def test_an_older_registry_gets_the_columns_with_its_recorded_settings_as_the_sources(settings: Any,
                                                                                      dsn: str) -> None:
    with fresh_database(dsn, "hnsw_cols") as database, psycopg.connect(database, autocommit=True) as conn:
        conn.execute(sql_text("schema/create_registry"))
        # the registry as a release before the columns made it, with its rows
        conn.execute("ALTER TABLE vectorops.collection_registry DROP COLUMN source_hnsw_m, "
                     "DROP COLUMN source_hnsw_ef_construction")
        _insert(conn, "old-default", 16, 100)
        _insert(conn, "old-m64", 64, 100)  # what a store recorded for hnsw:M 64 before it mapped it
        conn.execute(sql_text("schema/create_registry"))
        assert _rows(conn) == [("old-default", 16, 100, 16, 100), ("old-m64", 64, 100, 64, 100)]
        # a row written since, with its own source values: a rerun of the DDL leaves every row as it is
        conn.execute("INSERT INTO vectorops.collection_registry (collection, table_schema, table_name, distance, "
                     "source_count, loaded_count, quarantined_count, migrated_at, hnsw_m, hnsw_ef_construction, "
                     "source_hnsw_m, source_hnsw_ef_construction) "
                     "VALUES ('new-m128', 'vectors', 'new-m128', 'l2', 0, 0, 0, now(), 100, 200, 128, 100)")
        conn.execute("UPDATE vectorops.collection_registry SET hnsw_ef_construction = 128 "
                     "WHERE collection = 'old-m64'")
        conn.execute(sql_text("schema/create_registry"))
        assert _rows(conn) == [("new-m128", 100, 200, 128, 100), ("old-default", 16, 100, 16, 100),
                               ("old-m64", 64, 128, 64, 100)]
