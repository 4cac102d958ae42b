"""Results come back in Chroma 1.5's shape: its keys in its order, None for what was not included."""

from __future__ import annotations

import numpy as np

from tests.support import ephemeral_chroma
from vectorops.store.results import Row, get_result, query_result

ROWS = [Row("a", [1.0, 2.0], "doc a", {"k": 1}, "u", 0.5), Row("b", np.array([0.1, 0.2], dtype=np.float32),
                                                              None, None, None, 1)]


def test_get_result_with_everything() -> None:
    result = get_result(ROWS, ["embeddings", "documents", "metadatas", "uris"])
    assert list(result) == ["ids", "embeddings", "documents", "uris", "included", "data", "metadatas"]
    assert result["ids"] == ["a", "b"]
    assert result["documents"] == ["doc a", None] and result["metadatas"] == [{"k": 1}, None]
    assert result["uris"] == ["u", None] and result["data"] is None
    assert result["included"] == ["embeddings", "documents", "metadatas", "uris"]
    embeddings = result["embeddings"]
    assert embeddings.dtype == np.float64 and embeddings.shape == (2, 2)
    # values pass through float32 first, as Chroma's do
    assert embeddings[1, 0] == float(np.float32(0.1)) != 0.1


def test_get_result_leaves_out_what_was_not_included() -> None:
    result = get_result(ROWS, [])
    assert result["ids"] == ["a", "b"] and result["included"] == []
    assert all(result[k] is None for k in ("embeddings", "documents", "uris", "metadatas", "data"))


def test_an_empty_get_has_an_empty_embedding_array() -> None:
    result = get_result([], ["embeddings"])
    assert result["ids"] == [] and result["embeddings"].shape == (0,)


def test_query_result_one_list_per_query() -> None:
    result = query_result([ROWS, [], ROWS[1:]], ["distances", "documents", "embeddings"])
    assert list(result) == ["ids", "embeddings", "documents", "uris", "included", "data", "metadatas", "distances"]
    assert result["ids"] == [["a", "b"], [], ["b"]]
    assert result["documents"] == [["doc a", None], [], [None]]
    assert result["distances"] == [[0.5, 1.0], [], [1.0]]
    assert all(type(d) is float for d in result["distances"][0])
    assert [e.shape for e in result["embeddings"]] == [(2, 2), (0,), (1, 2)]
    assert result["metadatas"] is None and result["uris"] is None


def test_the_keys_are_chromas_own_in_its_order() -> None:
    import uuid

    collection = ephemeral_chroma().create_collection(f"unit-results-{uuid.uuid4().hex[:8]}")
    collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
    assert list(collection.get()) == list(get_result(ROWS, ["metadatas", "documents"]))
    assert list(collection.query(query_embeddings=[[1.0, 2.0]], n_results=1)) == \
        list(query_result([ROWS], ["metadatas", "documents", "distances"]))
