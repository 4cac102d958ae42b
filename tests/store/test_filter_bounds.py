"""The nesting limit of filters is Chroma 1.5.9's own: what its client accepts both backends accept, with the same
answer, and one level more is refused by both in one line (Chroma's own client is asked directly, too)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vectorops.store import UnsupportedFilter
from vectorops.store.where import MAX_FILTER_DEPTH, filter_depth


def _nested(levels: int, leaf: dict[str, Any], sibling: dict[str, Any], op: str = "$or") -> dict[str, Any]:
    clause = leaf
    for _ in range(levels):
        clause = {op: [clause, sibling]}
    return clause


#: (kind, leaf, sibling): each leaf nests 1 to 3 dicts and lists, so the limit falls at different $or counts
CASES = [("where", {"k": 1}, {"k": 2}), ("where", {"k": {"$eq": 1}}, {"k": 2}),
         ("where", {"k": {"$in": [1, 2]}}, {"k": 2}), ("where", {"#document": {"$contains": "d"}}, {"k": 2}),
         ("where_document", {"$contains": "d"}, {"$contains": "zz"})]


@pytest.fixture(scope="module")
def pair(stores: dict[str, Any]) -> dict[str, Any]:
    name = f"bounds-{uuid.uuid4().hex[:8]}"
    cols = {b: s.get_or_create_collection(name) for b, s in stores.items()}
    for col in cols.values():
        col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [2.0, 1.0]], metadatas=[{"k": 1}, {"k": 3}],
                documents=["doc", "other"])
    return cols


@pytest.mark.parametrize(("kind", "leaf", "sibling"), CASES)
def test_the_limit_is_chromas(pair: dict[str, Any], kind: str, leaf: dict[str, Any], sibling: dict[str, Any]) -> None:
    leaf_depth = filter_depth(leaf)
    deepest = (MAX_FILTER_DEPTH - leaf_depth) // 2  # each $or adds a dict and a list
    accepted, refused = _nested(deepest, leaf, sibling), _nested(deepest + 1, leaf, sibling)
    assert filter_depth(accepted) <= MAX_FILTER_DEPTH < filter_depth(refused)
    from chromadb.errors import InvalidArgumentError

    raw = pair["chroma"].chroma  # chromadb's own Collection, without the store's checks
    assert raw.get(**{kind: accepted})["ids"] == ["a"]
    with pytest.raises(InvalidArgumentError, match="Invalid where"):
        raw.get(**{kind: refused})
    for backend, col in pair.items():
        assert col.get(**{kind: accepted}, include=[])["ids"] == ["a"], backend
        with pytest.raises(UnsupportedFilter) as caught:
            col.get(**{kind: refused})
        assert "\n" not in str(caught.value) and f"more than {MAX_FILTER_DEPTH} levels" in str(caught.value)


def test_filter_depth_counts_without_recursion() -> None:
    clause: Any = {"k": 1}
    for _ in range(200_000):
        clause = {"$and": [clause, {"k": 1}]}
    assert filter_depth(clause) == MAX_FILTER_DEPTH + 1  # stops counting past the limit
    assert filter_depth({"k": {"$in": list(range(100_000))}}) == 3
    assert filter_depth("x") == 0
