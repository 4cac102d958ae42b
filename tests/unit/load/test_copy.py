"""write_batches into a real UNLOGGED shadow table: rows as sent, the tally, what PostgreSQL cannot hold set apart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from vectorops.db.sql_files import statement
from vectorops.load.copy import Rows, Tally, encode_batch, write_batches
from vectorops.load.shadow import vector_type

SCHEMA = "unit_copy"


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    """A transaction holding a fresh shadow table ``unit_copy.t``; rolled back after the test."""
    with psycopg.connect(dsn) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        connection.execute(statement("load/create_shadow_table", table=sql.Identifier(SCHEMA, "t"),
                                     vector_type=vector_type(2)))
        yield connection
        connection.rollback()


def _rows(ids: list[str], *, problems: list[str | None] | None = None, documents: list[str | None] | None = None,
          metadatas: list[dict[str, Any] | None] | None = None) -> Rows:
    n = len(ids)
    vectors = np.array([[float(i), -0.5] for i in range(n)], dtype=np.float32).reshape(n, 2)
    return Rows(ids=ids, vectors=vectors, problems=problems or [None] * n, documents=documents or [None] * n,
                metadatas=metadatas or [None] * n, uris=[None] * n, originals=vectors)


def _table(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(sql.SQL("SELECT id, embedding::text, document, metadata, uri FROM {} ORDER BY id").format(
        sql.Identifier(SCHEMA, "t"))).fetchall()


def test_rows_arrive_as_sent_and_are_counted(conn: psycopg.Connection) -> None:
    tally, seen = Tally(), []
    batches = [[_rows(["a", "b"], documents=["doc a", None], metadatas=[{"k": 1, "ü": "日本"}, None])],
               [_rows(["c"])]]
    assert write_batches(conn, SCHEMA, "t", batches, tally, progress=seen.append) == []
    assert _table(conn) == [("a", "[0,-0.5]", "doc a", {"k": 1, "ü": "日本"}, None),
                            ("b", "[1,-0.5]", None, None, None), ("c", "[0,-0.5]", None, None, None)]
    assert (tally.loaded, tally.metadata_rows) == (3, 1)
    assert seen == [2, 3]


def test_records_postgresql_cannot_hold_are_quarantined_and_the_rest_loaded(conn: psycopg.Connection) -> None:
    tally = Tally()
    rows = _rows(["ok", "nul-doc", "bad\x00id", "no-vector"], problems=[None, None, None, "embedding is NaN"],
                 documents=["fine", "a\x00b", None, "x"], metadatas=[{"m": 1}, {"m": 2}, None, None])
    entries = write_batches(conn, SCHEMA, "t", [[rows]], tally)
    assert [row[0] for row in _table(conn)] == ["ok"]
    assert (tally.loaded, tally.metadata_rows) == (1, 1)
    by_id = {rid: (reason, json.loads(payload)) for rid, reason, payload in entries}
    assert set(by_id) == {"nul-doc", "bad\\u0000id", "no-vector"}
    assert "document" in by_id["nul-doc"][0]
    assert by_id["no-vector"][0] == "embedding is NaN"
    assert by_id["nul-doc"][1] == {"id": "nul-doc", "embedding": [1.0, -0.5], "document": "a\x00b",
                                   "metadata": {"m": 2}, "uri": None}
    assert by_id["bad\\u0000id"][1]["id"] == "bad\x00id"


def test_a_batch_with_nothing_storable_writes_nothing(conn: psycopg.Connection) -> None:
    tally = Tally()
    payload, bad = encode_batch(_rows(["x"], problems=["wrong dimensions"]), tally)
    assert payload is None and len(bad) == 1
    assert write_batches(conn, SCHEMA, "t", [[_rows(["x"], problems=["wrong dimensions"])]], tally)[0][0] == "x"
    assert _table(conn) == []
    assert tally.loaded == 0


def test_the_load_does_not_wait_for_its_wal(conn: psycopg.Connection) -> None:
    write_batches(conn, SCHEMA, "t", [], Tally())
    assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
    assert _table(conn) == []


def test_the_fast_and_the_checked_path_store_the_same_rows(conn: psycopg.Connection) -> None:
    ids, metadatas = ["a", "b", "c"], [{"a": 1, "z": 1.5}, None, {"b": "c"}]
    fast_tally, slow_tally = Tally(), Tally()
    write_batches(conn, SCHEMA, "t", [[_rows(ids, metadatas=metadatas)]], fast_tally)
    fast = _table(conn)
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(SCHEMA, "t")))
    slow_rows = _rows([*ids, "bad"], problems=[None, None, None, "no"], metadatas=[*metadatas, None])
    assert len(write_batches(conn, SCHEMA, "t", [[slow_rows]], slow_tally)) == 1
    assert _table(conn) == fast
    assert (fast_tally.loaded, fast_tally.metadata_rows) == (slow_tally.loaded, slow_tally.metadata_rows) == (3, 2)
