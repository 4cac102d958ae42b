"""Chroma filters compiled to SQL select, on a small real table, the rows Chroma 1.5's semantics select.

The cross-backend conformance against chromadb itself lives in tests/store; these are the fast, hand-checked ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from vectorops.metadata_json import metadata_json
from vectorops.store.errors import UnsupportedFilter
from vectorops.store.where import MAX_FILTER_DEPTH, filter_depth
from vectorops.store.where_sql import MAX_PARAMETERS, compile_filter, saturating_int

BIG = 2 ** 60
# id -> (metadata, document); metadata stored as the loader stores it (vectorops.metadata_json)
ROWS: dict[str, tuple[dict[str, Any] | None, str | None]] = {
    "int1": ({"k": 1}, "the quick brown fox"),
    "float1": ({"k": 1.0}, "The Quick Brown Fox"),
    "true": ({"k": True}, "lazy dog"),
    "str1": ({"k": "1"}, None),
    "float2.5": ({"k": 2.5}, "fox and dog"),
    "int2": ({"k": 2}, ""),
    "neg": ({"k": -3}, "naïve café"),
    "list_int": ({"k": [1, 2]}, None),
    "list_float": ({"k": [1.0, 3.5]}, None),
    "list_str": ({"k": ["a", "b"]}, None),
    "other": ({"other": 1}, "other"),
    "none": (None, None),
    "big": ({"k": BIG}, None),
    "big1": ({"k": BIG + 1}, None),
}
ALL = set(ROWS)


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TEMP TABLE records (id text PRIMARY KEY, document text, metadata jsonb)")
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO records (id, document, metadata) VALUES (%s, %s, %s::jsonb)",
                               [(rid, doc, None if meta is None else metadata_json(meta))
                                for rid, (meta, doc) in ROWS.items()])
        yield connection


def select(conn: psycopg.Connection, where: dict[str, Any] | None = None,
           where_document: dict[str, Any] | None = None, ids: list[str] | None = None) -> set[str]:
    condition, params = compile_filter(where, where_document, ids)
    query = sql.SQL("SELECT id FROM records WHERE {}").format(condition)
    return {row[0] for row in conn.execute(query, params)}


# (filter, the ids Chroma 1.5 returns for it)
CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"k": 1}, {"int1", "float1"}),  # shorthand; 1 matches 1 and 1.0, never True, "1" or a list holding 1
    ({"k": {"$eq": 1}}, {"int1", "float1"}),
    ({"k": {"$eq": 1.0}}, {"int1", "float1"}),
    ({"k": {"$eq": 2.5}}, {"float2.5", "int2"}),  # a float operand meets stored ints truncated: 2 == 2.5
    ({"k": {"$eq": True}}, {"true"}),
    ({"k": {"$eq": False}}, set()),
    ({"k": {"$eq": "1"}}, {"str1"}),
    ({"k": {"$eq": BIG}}, {"big"}),  # beyond 2**53 still exact
    ({"k": {"$eq": -0.0}}, set()),
    ({"missing": {"$eq": 1}}, set()),
    ({"k": {"$ne": 1}}, ALL - {"int1", "float1"}),  # records without the key or without metadata included
    ({"k": {"$ne": True}}, ALL - {"true"}),
    ({"k": {"$ne": "1"}}, ALL - {"str1"}),
    ({"k": {"$gt": 1}}, {"float2.5", "int2", "big", "big1"}),  # numbers only: no bool, str or list
    ({"k": {"$gte": 1}}, {"int1", "float1", "float2.5", "int2", "big", "big1"}),
    ({"k": {"$lt": 1}}, {"neg"}),
    ({"k": {"$lte": 1}}, {"neg", "int1", "float1"}),
    ({"k": {"$gt": 2.5}}, {"big", "big1"}),  # stored ints compare with 2
    ({"k": {"$gte": 2.5}}, {"float2.5", "int2", "big", "big1"}),
    ({"k": {"$lt": -2.5}}, {"neg"}),
    ({"k": {"$gt": BIG}}, {"big1"}),
    ({"k": {"$lt": 0}}, {"neg"}),
    ({"other": {"$gte": 1}}, {"other"}),
    ({"k": {"$in": [1, 2]}}, {"int1", "float1", "int2"}),
    ({"k": {"$in": [2.5]}}, {"float2.5", "int2"}),
    ({"k": {"$in": ["1", "a"]}}, {"str1"}),
    ({"k": {"$in": [True]}}, {"true"}),
    ({"k": {"$nin": [1, 2]}}, ALL - {"int1", "float1", "int2"}),
    ({"k": {"$nin": ["1"]}}, ALL - {"str1"}),
    ({"k": {"$contains": 1}}, {"list_int"}),  # 1 is not in [1.0]
    ({"k": {"$contains": 1.0}}, {"list_float"}),
    ({"k": {"$contains": 3.5}}, {"list_float"}),
    ({"k": {"$contains": "a"}}, {"list_str"}),
    ({"k": {"$contains": "1"}}, set()),  # a scalar string is not a list
    ({"k": {"$not_contains": 1}}, ALL - {"list_int"}),
    ({"k": {"$not_contains": "b"}}, ALL - {"list_str"}),
    ({"$and": [{"k": {"$gte": 1}}, {"k": {"$lt": 2}}]}, {"int1", "float1"}),
    ({"$or": [{"k": True}, {"k": "1"}]}, {"true", "str1"}),
    ({"$or": [{"k": {"$lt": 0}}, {"other": 1}]}, {"neg", "other"}),
    ({"$and": [{"$or": [{"k": 1}, {"k": 2}]}, {"k": {"$ne": 1.0}}]}, {"int2"}),
    ({"#document": {"$contains": "fox"}}, {"int1", "float2.5"}),  # case-sensitive
    ({"#document": {"$not_contains": "fox"}}, ALL - {"int1", "float2.5"}),  # no document: does not contain
]


@pytest.mark.parametrize(("where", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_where_selects_what_chroma_selects(conn: psycopg.Connection, where: dict[str, Any],
                                           expected: set[str]) -> None:
    assert select(conn, where) == expected


DOCUMENT_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"$contains": "dog"}, {"true", "float2.5"}),
    ({"$contains": "Fox"}, {"float1"}),
    ({"$contains": "café"}, {"neg"}),
    ({"$not_contains": "dog"}, ALL - {"true", "float2.5"}),
    ({"$and": [{"$contains": "fox"}, {"$contains": "dog"}]}, {"float2.5"}),
    ({"$or": [{"$contains": "lazy"}, {"$contains": "other"}]}, {"true", "other"}),
    ({"$regex": "^[Tt]he"}, {"int1", "float1"}),
    ({"$not_regex": "o"}, ALL - {"int1", "float1", "true", "float2.5", "other"}),
]


@pytest.mark.parametrize(("where_document", "expected"), DOCUMENT_CASES, ids=[repr(c[0]) for c in DOCUMENT_CASES])
def test_where_document_selects_what_chroma_selects(conn: psycopg.Connection, where_document: dict[str, Any],
                                                    expected: set[str]) -> None:
    assert select(conn, where_document=where_document) == expected


def test_filters_ids_and_documents_combine_with_and(conn: psycopg.Connection) -> None:
    assert select(conn, {"k": {"$gte": 1}}, {"$contains": "fox"}, ids=["int1", "float1", "float2.5"]) \
        == {"int1", "float2.5"}
    assert select(conn, ids=["int1", "nope"]) == {"int1"}
    assert select(conn, ids=[]) == set()


def test_no_filter_is_true() -> None:
    condition, params = compile_filter()
    assert condition.as_string(None) == "true" and params == {}


def _nested(levels: int) -> dict[str, Any]:
    clause: dict[str, Any] = {"k": 1.0}
    for level in range(levels):
        # the innermost sibling is as shallow as {"k": 1.0}; the outer ones have room for an operator
        clause = {"$and": [clause, {"k": 1} if level == 0 else {"k": {"$lt": 2}}]}
    return clause


def test_the_deepest_filter_chroma_accepts_runs_and_one_deeper_is_refused(conn: psycopg.Connection) -> None:
    levels = (MAX_FILTER_DEPTH - 1) // 2  # each $and adds a dict and a list around {"k": 1}
    assert filter_depth(_nested(levels)) == MAX_FILTER_DEPTH
    assert select(conn, _nested(levels)) == {"int1", "float1"}
    assert select(conn, {"$or": [_nested(levels - 1), {"k": 2}]}) == {"int1", "float1", "int2"}
    with pytest.raises(UnsupportedFilter, match="nested more than"):
        compile_filter(_nested(levels + 1))


def test_values_and_keys_travel_as_parameters_never_as_sql() -> None:
    key = "k'); DROP TABLE records; --"
    condition, params = compile_filter({"$or": [{key: "x'y"}, {key: {"$gt": 1}}, {key: {"$in": ["a", "b"]}}]})
    text = condition.as_string(None)
    assert "DROP" not in text and "x'y" not in text
    assert key in params.values()  # one parameter per key, however often the filter names it
    assert list(params.values()).count(key) == 1


@pytest.mark.parametrize("where", [
    {"k": {"$eq": [1]}},
    {"k": {"$in": [1, "1"]}},
    {"k": {"$in": []}},
    {"k": {"$gt": True}},
    {"k": {"$gt": "a"}},
    {"k": {"$regex": "a"}},
    {"$and": [{"k": 1}]},
    {"k": 1, "j": 2},
    {"k": float("nan")},
    {"#document": {"$regex": "a"}},
])
def test_what_chroma_refuses_is_refused(where: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFilter):
        compile_filter(where)


def test_a_filter_beyond_the_protocols_parameters_is_refused() -> None:
    many = {"$or": [{"k": i} for i in range(MAX_PARAMETERS)]}
    with pytest.raises(UnsupportedFilter, match="more than one PostgreSQL statement can carry"):
        compile_filter(many)


def test_an_int_beyond_64_bits_compares_as_a_float(conn: psycopg.Connection) -> None:
    assert select(conn, {"k": {"$gt": 2 ** 70}}) == set()
    assert select(conn, {"k": {"$lt": 2 ** 70}}) == ALL - {"true", "str1", "list_int", "list_float", "list_str",
                                                          "other", "none"}


@pytest.mark.parametrize(("x", "expected"), [(2.5, 2), (-2.5, -2), (1e300, 2 ** 63 - 1), (-1e300, -(2 ** 63))])
def test_saturating_int_is_rusts_cast(x: float, expected: int) -> None:
    assert saturating_int(x) == expected
