"""Shadow tables load UNLOGGED and are made logged once; truncate empties them (the real server)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from vectorops.db.sql_files import statement
from vectorops.load.shadow import row_count, vector_type
from vectorops.load.unlogged import is_unlogged, make_logged, truncate

SCHEMA = "unit_unlogged"


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    """A transaction holding an UNLOGGED shadow table of one row; rolled back after the test."""
    with psycopg.connect(dsn) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        table = sql.Identifier(SCHEMA, "Shadow Table")
        connection.execute(statement("load/create_shadow_table", table=table, vector_type=vector_type(None)))
        connection.execute(sql.SQL("INSERT INTO {} (id, embedding) VALUES ('a', '[1,2]')").format(table))
        yield connection
        connection.rollback()


def test_a_shadow_is_unlogged_until_made_logged_once(conn: psycopg.Connection) -> None:
    assert is_unlogged(conn, SCHEMA, "Shadow Table")
    seconds = make_logged(conn, SCHEMA, "Shadow Table")
    assert seconds is not None and seconds >= 0
    assert not is_unlogged(conn, SCHEMA, "Shadow Table")
    assert make_logged(conn, SCHEMA, "Shadow Table") is None
    assert row_count(conn, SCHEMA, "Shadow Table") == 1


def test_a_missing_table_is_not_unlogged(conn: psycopg.Connection) -> None:
    assert not is_unlogged(conn, SCHEMA, "no such table")
    assert make_logged(conn, SCHEMA, "no such table") is None


def test_truncate_empties_the_shadow(conn: psycopg.Connection) -> None:
    truncate(conn, SCHEMA, "Shadow Table")
    assert row_count(conn, SCHEMA, "Shadow Table") == 0
    assert is_unlogged(conn, SCHEMA, "Shadow Table")
