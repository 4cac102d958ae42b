"""Collection API arguments are checked and normalised by Chroma 1.5's rules, plus what PostgreSQL cannot hold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vectorops.store import inputs, record_inputs
from vectorops.store.errors import DimensionMismatch, InvalidArgumentType, InvalidRecord, StoreError


@pytest.mark.parametrize("name", ["abc", "a.b-c_d", "A1" + "x" * 509 + "Z", "123"])
def test_good_collection_names(name: str) -> None:
    assert inputs.collection_name(name) == name


@pytest.mark.parametrize("name", ["ab", "-abc", "abc-", "a b c", "a/bc", "ünï", "a" * 513, 123, None, ""])
def test_bad_collection_names(name: Any) -> None:
    with pytest.raises(StoreError, match="3-512 characters"):
        inputs.collection_name(name)


def test_hnsw_config_defaults_metadata_and_configuration() -> None:
    assert inputs.hnsw_config(None, None) == inputs.HnswConfig("l2", 16, 100, 100)
    meta = {"hnsw:space": "cosine", "hnsw:M": 32, "hnsw:construction_ef": 200, "hnsw:search_ef": 50}
    assert inputs.hnsw_config(meta, None) == inputs.HnswConfig("cosine", 32, 200, 50)
    # configuration wins over metadata, key by key
    assert inputs.hnsw_config(meta, {"hnsw": {"space": "ip", "ef_search": 7}}) == inputs.HnswConfig("ip", 32, 200, 7)


@pytest.mark.parametrize(("meta", "config", "message"), [
    ({"hnsw:space": "dot"}, None, "distance space 'dot'"),
    ({"hnsw:M": 0}, None, "max_neighbors=0"),
    ({"hnsw:M": 2 ** 31}, None, "max_neighbors=2147483648"),
    ({"hnsw:M": True}, None, "max_neighbors=True"),
    (None, {"hnsw": {"ef_construction": 0}}, "ef_construction=0"),
    (None, {"hnsw": {"ef_search": 1001}}, "ef_search=1001"),
    (None, {"hnsw": {"ef_search": 10.0}}, "ef_search=10.0"),
])
def test_bad_hnsw_settings_name_the_setting(meta: Any, config: Any, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        inputs.hnsw_config(meta, config)


def test_hnsw_settings_chroma_takes_and_pgvector_does_not_are_taken_as_given() -> None:
    # Chroma 1.5 takes them; the PostgreSQL side maps them when it creates the table (issue 26)
    assert inputs.hnsw_config({"hnsw:M": 128}, None) == inputs.HnswConfig("l2", 128, 100, 100)
    assert inputs.hnsw_config({"hnsw:M": 1}, {"hnsw": {"ef_construction": 3}}) == inputs.HnswConfig("l2", 1, 3, 100)


def test_collection_metadata() -> None:
    assert inputs.collection_metadata(None) is None
    assert inputs.collection_metadata({"a": 1, "b": "x", "c": 1.5, "d": False}) == {"a": 1, "b": "x", "c": 1.5,
                                                                                   "d": False}
    for bad in ({}, {"a": [1]}, {"a": None}, {1: "x"}, "text"):
        with pytest.raises(StoreError):
            inputs.collection_metadata(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("a", ["a"]), ({"k": 1}, [{"k": 1}]), (["a", "b"], ["a", "b"]), (("a",), [("a",)])])
def test_one_or_many(value: Any, expected: Any) -> None:
    assert inputs.one_or_many(value) == expected


def test_id_list() -> None:
    assert inputs.id_list("one") == ["one"]
    assert inputs.id_list(["b", "a", "ü😀"]) == ["b", "a", "ü😀"]


@pytest.mark.parametrize(("ids", "error", "message"), [
    ([], StoreError, "non-empty list"),
    (None, StoreError, "non-empty list"),
    ([""], StoreError, "Empty ID"),
    ([1], StoreError, "Expected ID to be a str"),
    (["a", "b", "a", "b", "c"], StoreError, "duplicates of: a, b"),
    (["a\x00b"], InvalidRecord, "id"),
    (["\ud800"], InvalidRecord, "id"),
])
def test_bad_ids(ids: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        inputs.id_list(ids)


def test_embedding_matrix() -> None:
    flat = inputs.embedding_matrix([1, 2, 3], rows=1)
    assert flat.dtype == np.float32 and flat.shape == (1, 3) and flat.flags.c_contiguous
    assert inputs.embedding_matrix(np.ones((2, 4), dtype=np.float64), rows=2).dtype == np.float32
    assert inputs.embedding_matrix([[1, 2]], rows=None).shape == (1, 2)


@pytest.mark.parametrize(("embeddings", "rows", "error", "message"), [
    ([[1, 2], [3]], 2, StoreError, "equally long"),
    ([[1, 2], [3, 4]], 3, StoreError, "ids: 3, embeddings: 2"),
    ([[]], 1, StoreError, "non-empty vectors"),
    ([[[1.0]]], 1, StoreError, "non-empty vectors"),
    ([[1.0, float("nan")]], 1, InvalidRecord, "NaN or Infinity"),
    ([[1.0, float("inf")]], 1, InvalidRecord, "NaN or Infinity"),
    ([["a", "b"]], 1, StoreError, "a list of floats or ints"),
])
def test_bad_embeddings(embeddings: Any, rows: int, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        inputs.embedding_matrix(embeddings, rows)


def test_check_dimensions_in_chromas_words() -> None:
    inputs.check_dimensions(np.zeros((1, 3), dtype=np.float32), 3)
    inputs.check_dimensions(np.zeros((1, 3), dtype=np.float32), None)
    with pytest.raises(DimensionMismatch, match="expecting embedding with dimension of 4, got 3"):
        inputs.check_dimensions(np.zeros((1, 3), dtype=np.float32), 4)


def test_good_metadata() -> None:
    metas = [{"s": "x", "i": 2 ** 63 - 1, "f": 1.5, "b": True, "l": [1, 2], "ls": ["a"]}, None]
    assert record_inputs.metadata_list(metas, 2, allow_none_values=False) == metas
    assert record_inputs.metadata_list({"k": None}, 1, allow_none_values=True) == [{"k": None}]


@pytest.mark.parametrize(("meta", "message"), [
    ({"k": None}, "None removes a key"),
    ({}, "non-empty dict"),
    ({"$k": 1}, "not starting with \\$ or #"),
    ({"#k": 1}, "not starting with"),
    ({"": 1}, "non-empty strings"),
    ({"k": 2 ** 63}, "beyond a 64-bit integer"),
    ({"k": -(2 ** 63) - 1}, "beyond a 64-bit integer"),
    ({"k": float("nan")}, "NaN or Infinity"),
    ({"k": []}, "to be non-empty"),
    ({"k": [1, "a"]}, "same type"),
    ({"k": [1, 1.0]}, "same type"),
    ({"k": [[1]]}, "same type"),
    ({"k": [2 ** 64]}, "beyond a 64-bit integer"),
    ({"k": {"a": 1}}, "which is a dict"),
    ({"k": "a\x00"}, "metadata 'k'"),
    ({"k\x00": "a"}, "metadata key"),
])
def test_bad_metadata(meta: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        record_inputs.metadata_list([meta], 1, allow_none_values=False)


def test_lengths_must_match_the_ids() -> None:
    with pytest.raises(StoreError, match="ids: 2, metadatas: 1"):
        record_inputs.metadata_list([{"a": 1}], 2, allow_none_values=False)
    with pytest.raises(StoreError, match="ids: 2, documents: 1"):
        record_inputs.text_list("only one", 2, "documents")


def test_text_list() -> None:
    assert record_inputs.text_list(["a", None, ""], 3, "documents") == ["a", None, ""]
    with pytest.raises(InvalidArgumentType, match="Expected uris to hold str or None"):
        record_inputs.text_list([1], 1, "uris")
    with pytest.raises(InvalidRecord, match="uri"):
        record_inputs.text_list(["a\x00"], 1, "uris")


def test_record_batch_keeps_absent_fields_absent() -> None:
    batch = record_inputs.record_batch("a", None, None, "doc", None, allow_none_values=False)
    assert batch == inputs.RecordBatch(["a"], None, None, ["doc"], None)
    full = record_inputs.record_batch(["a", "b"], [[1, 2], [3, 4]], [{"k": 1}, None], None, ["u", None],
                               allow_none_values=True)
    assert full.embeddings is not None and full.embeddings.shape == (2, 2)
    assert full.metadatas == [{"k": 1}, None] and full.uris == ["u", None] and full.documents is None


def test_include_list() -> None:
    assert inputs.include_list(inputs.GET_INCLUDE, inputs.GET_INCLUDE, allow_distances=False) == ["metadatas",
                                                                                                 "documents"]
    assert inputs.include_list(["embeddings"], inputs.GET_INCLUDE, allow_distances=False) == ["embeddings"]
    assert inputs.include_list(["distances"], inputs.QUERY_INCLUDE, allow_distances=True) == ["distances"]
    for bad, message in ((["distances"], "cannot be one of distances"), (["data"], "data loader"),
                         (["ids"], "one of documents"), ("documents", "to be a list"), (None, "to be a list"),
                         (("embeddings",), "to be a list"), ([1], "item to be a str")):
        with pytest.raises(StoreError, match=message):
            inputs.include_list(bad, inputs.GET_INCLUDE, allow_distances=False)


@pytest.mark.parametrize("value", [0, -1, True, 1.0, "1", None])
def test_positive_int_refuses(value: Any) -> None:
    with pytest.raises(StoreError, match="n_results"):
        inputs.positive_int(value, "n_results")


def test_counts() -> None:
    assert inputs.positive_int(1, "n_results") == 1
    assert inputs.optional_count(None, "limit") is None and inputs.optional_count(0, "offset") == 0
    for bad in (-1, False, 2.0):
        with pytest.raises(StoreError, match="limit"):
            inputs.optional_count(bad, "limit")
