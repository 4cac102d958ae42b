"""Filters that Chroma refuses, or that have no exact translation, raise UnsupportedFilter on both backends; the
regex translation keeps Rust's meaning."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from vectorops.store import UnsupportedFilter
from vectorops.store.regex import to_postgres


@pytest.fixture(scope="module")
def pair(stores: dict[str, Any]) -> dict[str, Any]:
    name = f"unsupported-{uuid.uuid4().hex[:8]}"
    cols = {b: s.get_or_create_collection(name) for b, s in stores.items()}
    for col in cols.values():
        col.add(ids=["a"], embeddings=np.ones((1, 3), np.float32), metadatas=[{"k": 1}], documents=["doc"])
    return cols


@pytest.mark.parametrize("where", [
    {}, {"k": {"$regex": "x"}}, {"k": {"$gt": True}}, {"k": {"$gt": "a"}}, {"k": {"$in": [1, "x"]}},
    {"k": {"$in": [1, True]}}, {"k": {"$in": [1, 2.0]}}, {"k": {"$in": []}}, {"$and": [{"k": 1}]}, {"k": None},
    {"k": {"$eq": [1]}}, {"#document": {"$regex": "x"}}, {"#document": "doc"}, {"k": {"$gt": 1, "$lt": 2}},
    {"$contains": "x"}, {"$foo": 1}, {"k": 1, "j": 2}, {"k": {"$exists": True}}, {"k": {"$eq": float("nan")}},
    {"$or": {"k": 1}}, {"k": {"$like": "x%"}},
])
def test_where_refused(pair: dict[str, Any], where: dict[str, Any]) -> None:
    for backend, col in pair.items():
        with pytest.raises(UnsupportedFilter):
            col.get(where=where)
        with pytest.raises(UnsupportedFilter):
            col.query(query_embeddings=[1.0, 1.0, 1.0], where=where)
        with pytest.raises(UnsupportedFilter):
            col.delete(where=where)
        assert col.count() == 1, backend


@pytest.mark.parametrize("where_document", [
    {}, {"$contains": ""}, {"$regex": ""}, {"$foo": "x"}, {"$contains": 1}, {"$and": [{"$contains": "d"}]},
    {"$contains": "d", "$regex": "o"}, {"$regex": r"\p{L}"}, {"$regex": "(?<=d)o"}, {"$regex": "(?=d)"},
    {"$regex": r"(d)\1"}, {"$regex": "(?x)d o"}, {"$regex": "o{1,300}"}, {"$regex": "[a[b]]"},
    {"$regex": "[a&&b]"}, {"$regex": "(d"}, {"$not_regex": "[[:^alpha:]]"},
])
def test_where_document_refused(pair: dict[str, Any], where_document: dict[str, Any]) -> None:
    for col in pair.values():
        with pytest.raises(UnsupportedFilter):
            col.get(where_document=where_document)


@pytest.mark.parametrize(("rust", "postgres"), [
    ("^h", "^h"), ("(?i)^h", "^[hH]"), ("(?i)k", r"[kK\u212A]"), ("(?m)^On", r"(?:^|(?<=\n))On"),
    ("a.b", r"a[^\n]b"), ("(?s)a.b", "a.b"), ("[[:alpha:]]+", "[A-Za-z]+"), (r"test\z", r"test\Z"),
    ("(?P<n>ab)|c", "(ab)|c"), (r"\x41", r"\U00000041"), ("(?i:Ab)c", "(?:[Aa][bB])c"), ("(?i)[a-c]", "[a-cA-C]"),
    ("a{2,5}?", "a{2,5}?"), (r"\.\$", r"\.\$"), ("]", r"\]"),
])
def test_translation(rust: str, postgres: str) -> None:
    assert to_postgres(rust) == postgres
