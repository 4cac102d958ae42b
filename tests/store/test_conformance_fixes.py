"""What Chroma's own tests (tests/conformance) found the store answering otherwise than Chroma, fixed: each case
is checked on the ``postgres`` and ``chroma`` backends against Chroma 1.5.9 itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from chromadb.errors import NotFoundError

from tests.support import ephemeral_chroma

TARGETS = ("chromadb", "chroma", "postgres")


@pytest.fixture(scope="module")
def ephemeral() -> Any:
    """Chroma 1.5.9 itself, in memory."""
    return ephemeral_chroma()


def _store(target: str, ephemeral: Any, stores: dict[str, Any]) -> Any:
    return ephemeral if target == "chromadb" else stores[target]


def _collection(target: str, name: str, ephemeral: Any, stores: dict[str, Any]) -> Any:
    if target == "chromadb":
        return ephemeral.get_or_create_collection(name, embedding_function=None)
    return stores[target].get_or_create_collection(name)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("call", [
    lambda c: c.count(), lambda c: c.get(), lambda c: c.add(ids=["a"], embeddings=[[1.0, 2.0]]),
    lambda c: c.query(query_embeddings=[[1.0, 2.0]]), lambda c: c.delete(ids=["a"]),
], ids=["count", "get", "add", "query", "delete"])
def test_a_deleted_collection_is_not_found(ephemeral: Any, stores: dict[str, Any], target: str,
                                           call: Callable[[Any], Any]) -> None:
    """A collection object used after ``delete_collection``: Chroma's not-found error, never the database's."""
    name = f"gone-{uuid.uuid4().hex[:8]}"
    collection = _collection(target, name, ephemeral, stores)
    _store(target, ephemeral, stores).delete_collection(name)
    with pytest.raises(NotFoundError, match=r"Collection .* does not exist"):
        call(collection)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("where_document", [{"$lt": {"$nested": 2}}, {"$contains": 2}, {"$contains": []},
                                            {"$not_contains": {"text": "hello"}}])
def test_a_bad_document_filter_says_where_document(ephemeral: Any, stores: dict[str, Any], target: str,
                                                   where_document: dict[str, Any]) -> None:
    """Chroma's words ("where document"), which its tests match."""
    name = f"wd-{uuid.uuid4().hex[:8]}"
    collection = _collection(target, name, ephemeral, stores)
    try:
        with pytest.raises(ValueError, match="where document"):
            collection.get(where_document=where_document)
    finally:
        _store(target, ephemeral, stores).delete_collection(name)


@pytest.mark.parametrize("target", TARGETS)
def test_n_results_below_one_in_chromas_words(ephemeral: Any, stores: dict[str, Any], target: str) -> None:
    name = f"nr-{uuid.uuid4().hex[:8]}"
    collection = _collection(target, name, ephemeral, stores)
    try:
        collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        with pytest.raises(TypeError, match=r"^Number of requested results -1, cannot be negative, or zero\."):
            collection.query(query_embeddings=[[1.0, 2.0]], n_results=-1)
    finally:
        _store(target, ephemeral, stores).delete_collection(name)


def test_what_postgresql_cannot_compile_or_index_is_a_store_error_chroma_code_catches(stores: dict[str, Any]) -> None:
    """A hostile pass found two raw psycopg errors: twenty \\b (each a look-around over Unicode's \\w) exceed
    PostgreSQL's regex engine, and a 12 KB id its index row. Chroma answers both; the store refuses them in one line,
    as errors an ``except chromadb.errors.InvalidArgumentError`` clause catches."""
    import random

    from chromadb.errors import InvalidArgumentError

    from vectorops.store import InvalidRecord, UnsupportedFilter

    collection = stores["postgres"].get_or_create_collection(f"limits-{uuid.uuid4().hex[:8]}")
    collection.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [2.0, 1.0]], documents=["a word", "two words"])
    with pytest.raises(UnsupportedFilter, match=r"\$regex is too large for PostgreSQL's regular expression engine"):
        collection.get(where_document={"$regex": r"\b" * 20})
    rng = random.Random(26)
    long_id = "".join(chr(rng.randrange(0x4E00, 0xA000)) for _ in range(4000))  # 12 KB that do not compress
    with pytest.raises(InvalidArgumentError) as caught:
        collection.add(ids=[long_id], embeddings=[[1.0, 1.0]])
    assert isinstance(caught.value, InvalidRecord) and "larger than PostgreSQL can index" in str(caught.value)
    assert collection.count() == 2
