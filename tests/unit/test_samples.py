"""Seeded samples of a real vector table: the same seed gives the same sample, zero vectors are never queries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from psycopg import sql

from vectorops.samples import query_sample, sample_ids

SCHEMA = "unit_samples"


@pytest.fixture(scope="module")
def table(dsn: str) -> Iterator[str]:
    """A vector table of 50 rows: ``r00`` has a zero vector, ``r01`` none."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, embedding vector(3))").format(
            sql.Identifier(SCHEMA, name)))
        rows = [(f"r{n:02d}", None if n == 1 else f"[{n},{n / 2},-{n}]") for n in range(50)]
        with conn.cursor() as cur:
            cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s::vector)").format(sql.Identifier(SCHEMA, name)),
                            rows)
        yield name
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


def test_the_same_seed_gives_the_same_sample(conn: psycopg.Connection, table: str) -> None:
    first = sample_ids(conn, SCHEMA, table, 10, seed=7)
    assert len(first) == len(set(first)) == 10
    assert sample_ids(conn, SCHEMA, table, 10, seed=7) == first
    assert sample_ids(conn, SCHEMA, table, 10, seed=8) != first


def test_a_larger_sample_extends_the_smaller_one(conn: psycopg.Connection, table: str) -> None:
    assert sample_ids(conn, SCHEMA, table, 20, seed=3)[:5] == sample_ids(conn, SCHEMA, table, 5, seed=3)
    assert sorted(sample_ids(conn, SCHEMA, table, 100, seed=3)) == [f"r{n:02d}" for n in range(50)]


def test_query_vectors_are_the_stored_ones_in_the_order_asked(conn: psycopg.Connection, table: str) -> None:
    chosen, matrix = query_sample(conn, SCHEMA, table, ["r04", "r00", "r01", "missing", "r02", "r03"], 2)
    assert chosen == ["r04", "r02"]  # r00 is all zeros, r01 has no vector
    assert matrix.dtype == np.float32
    assert matrix.tolist() == [[4.0, 2.0, -4.0], [2.0, 1.0, -2.0]]


def test_no_usable_id_gives_an_empty_matrix(conn: psycopg.Connection, table: str) -> None:
    chosen, matrix = query_sample(conn, SCHEMA, table, ["r00", "r01"], 3)
    assert chosen == [] and matrix.shape == (0, 0)
