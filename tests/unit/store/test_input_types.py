"""Argument types as Chroma 1.5.9 checks them, the store's errors as Chroma's classes, and ``-0.0`` operands; no
database (tests/store/test_chroma_inputs.py runs the same calls against Chroma itself and both backends)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from chromadb.errors import ChromaError, DuplicateIDError, InternalError, InvalidArgumentError, NotFoundError

from vectorops.store import inputs, record_inputs
from vectorops.store.base import checking
from vectorops.store.chroma import chroma_errors
from vectorops.store.errors import (
    CollectionNotFound,
    DimensionMismatch,
    DuplicateIds,
    InvalidArgument,
    InvalidArgumentType,
    InvalidRecord,
    PoolExhausted,
    QueryTimeout,
    StoreError,
    UnknownIds,
    UnsupportedFilter,
)
from vectorops.store.where_sql import compile_filter


@pytest.mark.parametrize(("ours", "theirs"), [
    (InvalidArgument, (InvalidArgumentError, ValueError)),
    (InvalidArgumentType, (InvalidArgumentError, ValueError, TypeError)),
    (DuplicateIds, (DuplicateIDError, ValueError)),
    (UnknownIds, (InternalError, LookupError)),
    (InvalidRecord, (InvalidArgumentError, ValueError)),
    (DimensionMismatch, (InvalidArgumentError, ValueError)),
    (UnsupportedFilter, (InvalidArgumentError, ValueError)),
    (CollectionNotFound, (NotFoundError, LookupError)),
])
def test_store_errors_are_chromas(ours: type[Exception], theirs: tuple[type[Exception], ...]) -> None:
    error = ours("why")
    assert isinstance(error, StoreError)
    for kind in theirs:
        with pytest.raises(kind):  # an except clause written for Chroma catches it
            raise error
    assert str(error) == "why" and isinstance(error, ChromaError) and error.message() == "why"


def test_timeouts_and_pool_are_no_chroma_errors() -> None:
    assert not issubclass(QueryTimeout, ChromaError) and not issubclass(PoolExhausted, ChromaError)


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("a", ["a"]), ({"k": 1}, [{"k": 1}]),
                                                 (["a"], ["a"]), (("a", "b"), [("a", "b")]), (1, [1])])
def test_one_or_many_is_chromas_maybe_cast(value: Any, expected: Any) -> None:
    assert inputs.one_or_many(value) == expected


@pytest.mark.parametrize(("ids", "error"), [
    (1, InvalidArgument), (("a", "b"), InvalidArgument), (np.array(["a"]), InvalidArgument), ([], InvalidArgument),
    (["a", "a"], DuplicateIds), ([""], InvalidArgument)])
def test_id_list_refusals(ids: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        inputs.id_list(ids)


def test_id_list_empty_id_where_chroma_takes_it() -> None:
    assert inputs.id_list([""], allow_empty=True) == [""]


def test_query_ids() -> None:
    assert inputs.query_ids([]) == [] and inputs.query_ids("a") == ["a"]
    assert inputs.query_ids(["b", "a", "b"]) == ["b", "a"]
    for bad in (1, [1], ("a",)):
        with pytest.raises(InvalidArgumentType, match="ids"):
            inputs.query_ids(bad)


@pytest.mark.parametrize("embeddings", [
    [["0", "1.5"]], ["0", "1.5"], [[1.0, "2"]], [[True, 0.0]], [True, False], [None], [[None, 1.0]], (1.0, 2.0),
    ((1.0, 2.0),), [], np.array([["1", "2"]]), np.array([[True, False]]), np.array([[1, None]], dtype=object), "12"])
def test_embeddings_that_chroma_refuses(embeddings: Any) -> None:
    with pytest.raises(InvalidArgument, match="query_embeddings"):
        inputs.embedding_matrix(embeddings, None, "query_embeddings")


@pytest.mark.parametrize("embeddings", [
    [1, 2.5], [[1, 2.5]], [np.ones(2)], np.ones(2, dtype=np.int64), np.ones((3, 2), dtype=np.float16),
    [np.float32(1.0), np.int64(2)]])
def test_embeddings_that_chroma_takes(embeddings: Any) -> None:
    matrix = inputs.embedding_matrix(embeddings, None)
    assert matrix.dtype == np.float32 and matrix.shape[1] == 2


def test_include_must_be_a_list() -> None:
    assert inputs.include_list(inputs.QUERY_INCLUDE, inputs.QUERY_INCLUDE, allow_distances=True) == [
        "metadatas", "documents", "distances"]
    for bad in (None, ("documents",), "documents", [1], ["distances"]):
        with pytest.raises(InvalidArgument, match="nclude"):
            inputs.include_list(bad, inputs.GET_INCLUDE, allow_distances=False)


@pytest.mark.parametrize(("value", "error"), [
    (0, InvalidArgumentType), (-1, InvalidArgumentType), (True, InvalidArgumentType), ("2", InvalidArgument),
    (2.0, InvalidArgument), (None, InvalidArgument)])
def test_n_results_classes_as_chromas(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="n_results"):
        inputs.positive_int(value, "n_results")


def test_n_results_below_one_is_a_type_error_as_in_chroma() -> None:
    with pytest.raises(TypeError):
        inputs.positive_int(0, "n_results")
    with pytest.raises(ValueError) as caught:
        inputs.positive_int("2", "n_results")
    assert not isinstance(caught.value, TypeError)


@pytest.mark.parametrize(("value", "error"), [("1", TypeError), (1.0, TypeError), (False, TypeError),
                                              (-1, ValueError)])
def test_limit_and_offset(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="offset"):
        inputs.optional_count(value, "offset")


def test_delete_limit() -> None:
    assert inputs.delete_limit(None, filtered=False) is None
    assert inputs.delete_limit(0, filtered=True) == 0 and inputs.delete_limit(3, filtered=True) == 3
    for bad in ("1", True, 1.5):
        with pytest.raises(InvalidArgumentType, match="limit must be a non-negative integer"):
            inputs.delete_limit(bad, filtered=True)
    with pytest.raises(InvalidArgument, match="limit must be a non-negative integer"):
        inputs.delete_limit(-1, filtered=True)
    with pytest.raises(InvalidArgument, match="only be specified when a where or where_document"):
        inputs.delete_limit(1, filtered=False)


def test_metadata_types() -> None:
    with pytest.raises(InvalidArgumentType, match="metadata key to be a str"):
        record_inputs.metadata_list([{1: "a"}], 1, allow_none_values=False)
    written = record_inputs.metadata_list([{"k": -0.0, "l": [-0.0, 2.0], "s": "-0.0"}], 1, allow_none_values=False)
    assert written == [{"k": 0.0, "l": [0.0, 2.0], "s": "-0.0"}]  # as Chroma writes them
    assert math.copysign(1.0, written[0]["k"]) == math.copysign(1.0, written[0]["l"][0]) == 1.0
    with pytest.raises(InvalidRecord, match="non-empty dict"):
        record_inputs.metadata_list("text", 1, allow_none_values=False)
    assert record_inputs.metadata_list([{"k": 0.0}], 1, allow_none_values=False) == [{"k": 0.0}]


def test_collection_arguments() -> None:
    with pytest.raises(InvalidArgumentType):
        inputs.collection_name(5)
    with pytest.raises(InvalidArgument):
        inputs.collection_name("ab")
    with pytest.raises(InvalidArgumentType):
        inputs.name_argument(None)
    assert inputs.name_argument("ab") == "ab"  # not found later, as in Chroma
    for metadata, configuration in (("x", None), (None, "x"), (None, {"hnsw": "x"})):
        with pytest.raises(InvalidArgumentType):
            inputs.hnsw_config(metadata, configuration)
    with pytest.raises(InvalidArgumentType):
        inputs.collection_metadata({"a": {"b": 1}})


def test_checking_names_the_method_and_keeps_the_class() -> None:
    with pytest.raises(DuplicateIds, match=r"^Expected IDs to be unique, found duplicates of: a in get\.$"):
        with checking("get"):
            inputs.id_list(["a", "a"])


@pytest.mark.parametrize("where", [
    {"l": {"$contains": -0.0}}, {"l": {"$not_contains": -0.0}}, {"k": {"$eq": -0.0}}, {"k": -0.0},
    {"k": {"$ne": -0.0}}, {"k": {"$in": [-0.0, 1.0]}}, {"k": {"$nin": [-0.0]}}, {"k": {"$gt": -0.0}}])
def test_negative_zero_operands_compile_as_zero(where: dict[str, Any]) -> None:
    key, condition = next(iter(where.items()))
    if isinstance(condition, dict):
        op, operand = next(iter(condition.items()))
        zero = {key: {op: [0.0 if x == 0 else x for x in operand] if isinstance(operand, list) else 0.0}}
    else:
        zero = {key: 0.0}
    assert compile_filter(where) == compile_filter(zero)


@pytest.mark.parametrize(("raised", "expected"), [
    (DuplicateIDError("dup"), DuplicateIds),
    (InternalError("Error executing plan: Internal error: Error finding id"), UnknownIds),
    (InvalidArgumentError("Collection expecting embedding with dimension of 4, got 3"), DimensionMismatch),
    (InvalidArgumentError("Validation error: name"), InvalidArgument),
    (NotFoundError("Collection [x] does not exist"), CollectionNotFound),
    (TypeError("argument 'uris': 'int' object cannot be converted"), InvalidArgumentType),
    (ValueError("Expected include to be a list"), InvalidArgument),
    (InternalError("disk full"), StoreError),
])
def test_chromas_errors_become_the_stores(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, chroma_errors():
        raise raised
    assert isinstance(caught.value, type(raised)) or type(raised) in (TypeError, ValueError, InternalError)
    assert str(caught.value) == str(raised)


def test_the_stores_own_errors_pass_chroma_errors_as_they_are() -> None:
    with pytest.raises(UnknownIds) as caught, chroma_errors():
        raise UnknownIds("mine")
    assert str(caught.value) == "mine"
