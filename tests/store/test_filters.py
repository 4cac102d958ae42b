"""Every filter operator gives identical results on Chroma and pgvector, on the same edge-case data."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from tests.store.dataset import DOCUMENTS, operands, records, same_type_groups

ROWS, DIMS = 150, 8
KEYS = ("v", "w", "l", "missing")
NUMBERS = [x for x in operands() if isinstance(x, int | float) and not isinstance(x, bool)]


@pytest.fixture(scope="module")
def pair(stores: dict[str, Any]) -> dict[str, Any]:
    """The same collection on both backends."""
    data = records(ROWS, DIMS, seed=1)
    name = f"filters-{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {"data": data}
    for backend, store in stores.items():
        col = store.get_or_create_collection(name, metadata={"hnsw:space": "l2"})
        col.add(ids=data.ids, embeddings=data.embeddings, metadatas=data.metadatas, documents=data.documents)
        out[backend] = col
    return out


def _ids(col: Any, **kwargs: Any) -> set[str]:
    return set(col.get(include=[], **kwargs)["ids"])


def _compare(pair: dict[str, Any], filters: list[dict[str, Any]], kind: str = "where") -> int:
    """Assert both backends agree on each filter; return how many filters matched something."""
    mismatches, non_empty = [], 0
    for f in filters:
        chroma, postgres = _ids(pair["chroma"], **{kind: f}), _ids(pair["postgres"], **{kind: f})
        if chroma != postgres:
            mismatches.append((f, sorted(chroma - postgres), sorted(postgres - chroma)))
        non_empty += bool(chroma)
    assert not mismatches, f"{len(mismatches)} of {len(filters)} filters differ (filter, only chroma, only " \
                           f"postgres): {mismatches[:5]}"
    return non_empty


@pytest.mark.parametrize("op", ["$eq", "$ne", "shorthand"])
def test_equality(pair: dict[str, Any], op: str) -> None:
    filters = [{k: x if op == "shorthand" else {op: x}} for k in KEYS for x in operands()]
    assert _compare(pair, filters) > len(operands())  # $eq on stored values, and $ne nearly always


@pytest.mark.parametrize("op", ["$gt", "$gte", "$lt", "$lte"])
def test_comparisons(pair: dict[str, Any], op: str) -> None:
    assert _compare(pair, [{k: {op: x}} for k in KEYS for x in NUMBERS]) > len(NUMBERS) // 2


@pytest.mark.parametrize("op", ["$in", "$nin"])
def test_membership(pair: dict[str, Any], op: str) -> None:
    assert _compare(pair, [{k: {op: group}} for k in KEYS for group in same_type_groups()]) > 5


@pytest.mark.parametrize("op", ["$contains", "$not_contains"])
def test_list_contains(pair: dict[str, Any], op: str) -> None:
    assert _compare(pair, [{k: {op: x}} for k in KEYS for x in operands()]) > 5


def test_logical(pair: dict[str, Any]) -> None:
    filters = [
        {"$and": [{"v": {"$gte": 0}}, {"w": {"$ne": "a"}}]},
        {"$or": [{"v": 1}, {"l": {"$contains": "a"}}, {"missing": {"$ne": 1}}]},
        {"$and": [{"$or": [{"v": True}, {"v": 2.5}]}, {"l": {"$not_contains": 1}}]},
        {"$or": [{"$and": [{"v": {"$in": [0, 1, 2]}}, {"w": {"$lt": 1}}]}, {"v": {"$nin": ["a", "b"]}}]},
        {"$and": [{"#document": {"$contains": "o"}}, {"v": {"$ne": 0}}]},
        {"$or": [{"#document": {"$not_contains": "a"}}, {"l": {"$contains": True}}]},
    ]
    assert _compare(pair, filters) == len(filters)


def test_document_filters(pair: dict[str, Any]) -> None:
    words = ["hello", "Hello", "o", "%", "_", "café", "\n", "ÉCOLE", "t", "zzz", "٣"]
    regexes = ["^h", "(?i)^h", "world$", r"\bcat\b", "^On", "(?m)^On", r"sat.\nOn", "sat..On", "(?s)sat..On", r"\d+",
               r"caf\w", "[[:alpha:]]+$", r"\Aword", r"test\z", "^$", ".*", "(?i)école", "[^a-z]", r"\s", r"\t",
               "(?i:HELLO) world", r"[\d%]", "x{1,2}", "a|b", r"(?P<w>wor)ld", "(?i)[a-c]_", r"\x41|\u00e9", r"\W",
               "(?i)ünï", "ÉCOLE$", r"[^\n]+\n", "é+", "(?i)[é]"]
    filters: list[dict[str, Any]] = [{op: w} for op in ("$contains", "$not_contains") for w in words]
    filters += [{op: r} for op in ("$regex", "$not_regex") for r in regexes]
    filters += [{"$and": [{"$contains": "o"}, {"$not_contains": "W"}]},
                {"$or": [{"$contains": "cat"}, {"$regex": "^a"}]}]
    assert _compare(pair, filters, "where_document") > len(filters) // 2
    present = [d for d in DOCUMENTS if d is not None]
    assert len(_ids(pair["postgres"], where_document={"$regex": ".*"})) == sum(
        1 for i in range(ROWS) if DOCUMENTS[i % len(DOCUMENTS)] is not None) and present


def test_filters_combine_with_ids_and_documents(pair: dict[str, Any]) -> None:
    ids = pair["data"].ids[::3]
    for kwargs in ({"ids": ids}, {"ids": ids, "where": {"v": {"$gte": 0}}},
                   {"ids": ids, "where": {"v": {"$ne": 1}}, "where_document": {"$contains": "o"}}):
        assert _ids(pair["chroma"], **kwargs) == _ids(pair["postgres"], **kwargs), kwargs


def test_filtered_queries_agree(pair: dict[str, Any]) -> None:
    rng = np.random.default_rng(7)
    queries = rng.standard_normal((5, DIMS), dtype=np.float32)
    filters = [None, {"v": {"$gt": 0}}, {"l": {"$contains": 1}}, {"v": {"$nin": ["a", "b", ""]}},
               {"$or": [{"w": {"$lte": 2}}, {"v": True}]}]
    for where in filters:
        for where_document in (None, {"$not_contains": "o"}):
            got = {b: pair[b].query(query_embeddings=queries, n_results=7, where=where, where_document=where_document,
                                    include=["distances", "metadatas", "documents"]) for b in ("chroma", "postgres")}
            assert got["chroma"]["ids"] == got["postgres"]["ids"], (where, where_document)
            assert got["chroma"]["metadatas"] == got["postgres"]["metadatas"]
            assert got["chroma"]["documents"] == got["postgres"]["documents"]
            np.testing.assert_allclose(np.array(got["chroma"]["distances"], dtype=object).astype(float)
                                       if got["chroma"]["distances"][0] else 0.0,
                                       np.array(got["postgres"]["distances"], dtype=object).astype(float)
                                       if got["postgres"]["distances"][0] else 0.0, rtol=1e-4, atol=1e-5)
