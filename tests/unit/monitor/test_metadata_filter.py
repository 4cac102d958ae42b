"""The filtered-recall probe's metadata filter is chosen from a seeded sample of a real table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from vectorops.monitor.metadata_filter import choose_filter
from vectorops.monitor.target import ProbeTarget


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


def _table(conn: psycopg.Connection, name: str, metadatas: list[dict[str, Any] | None]) -> ProbeTarget:
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (id text PRIMARY KEY, metadata jsonb)").format(sql.Identifier(name)))
    with conn.cursor() as cursor:
        cursor.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s::jsonb)").format(sql.Identifier(name)),
                           [(f"r{i:04d}", None if m is None else json.dumps(m)) for i, m in enumerate(metadatas)])
    return ProbeTarget(collection=name, schema="pg_temp", table=name, dimensions=2, space="l2", attempt_id=None,
                       index_name=None, index_valid=False, kind=None, index_bytes=None, ef_search=None,
                       ef_source="pgvector default")


def test_the_most_frequent_pair_within_half_of_the_rows(conn: psycopg.Connection) -> None:
    metas: list[dict[str, Any] | None] = []
    for i in range(100):
        color = "red" if i < 60 else "blue" if i < 90 else "green"
        metas.append({"color": color, "flag": i % 5 == 0, "tags": ["a", "b"], "nested": {"x": 1}})
    target = _table(conn, "colors", metas)
    chosen = choose_filter(conn, target, seed=1)
    # red covers 60 %: too broad; lists and objects are never candidates
    assert chosen.document == {"color": "blue"} and chosen.selectivity == 0.3 and chosen.sampled == 100
    assert chosen.reason is None
    assert choose_filter(conn, target, seed=1) == chosen  # the same seed picks the same filter


def test_the_sample_is_seeded_and_capped(conn: psycopg.Connection) -> None:
    target = _table(conn, "numbers", [{"n": i % 4} for i in range(400)])
    first = choose_filter(conn, target, seed=7, sample_rows=50)
    assert first.sampled == 50 and first.document is not None and "n" in first.document
    assert first == choose_filter(conn, target, seed=7, sample_rows=50)
    hits = conn.execute(sql.SQL("""SELECT count(*) FROM (SELECT metadata FROM pg_temp.numbers
                                   ORDER BY md5(id || %s::text), id LIMIT 50) s WHERE metadata @> %s::jsonb"""),
                        (7, json.dumps(first.document))).fetchone()
    assert hits is not None and first.selectivity == round(hits[0] / 50, 4)


def test_ties_go_to_the_smaller_key(conn: psycopg.Connection) -> None:
    target = _table(conn, "ties", [{"b": 1, "a": "x"} if i % 2 else {} for i in range(20)])
    assert choose_filter(conn, target, seed=3).document == {"a": "x"}


def test_no_metadata_says_so(conn: psycopg.Connection) -> None:
    target = _table(conn, "empty_meta", [None, {}, None])
    chosen = choose_filter(conn, target, seed=1)
    assert (chosen.document, chosen.selectivity, chosen.sampled) == (None, None, 3)
    assert chosen.reason == "no sampled row has metadata"


def test_the_share_bounds_are_one_and_fifty_percent(conn: psycopg.Connection) -> None:
    # 1 of 101 rows is under 1 %; 2 of 101 is above; exactly half is in
    rare = _table(conn, "rare", [{"once": 1}, {"twice": 1}, {"twice": 1}] + [None] * 98)
    assert choose_filter(conn, rare, seed=1).document == {"twice": 1}
    half = _table(conn, "half", [{"k": "a"}] * 10 + [{"k": "b"}] * 10)
    chosen = choose_filter(conn, half, seed=1)
    assert chosen.document == {"k": "a"} and chosen.selectivity == 0.5


def test_no_pair_in_range_says_so(conn: psycopg.Connection) -> None:
    everywhere = _table(conn, "everywhere", [{"k": "v"}] * 30)
    chosen = choose_filter(conn, everywhere, seed=1)
    assert chosen.document is None and chosen.sampled == 30
    assert chosen.reason == "no scalar metadata key/value pair covers between 1 % and 50 % of the sampled rows"
