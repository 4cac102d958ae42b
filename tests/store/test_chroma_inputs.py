"""Inputs as Chroma takes them (issue 26, part 5): Chroma 1.5.9 itself (an in-memory ``EphemeralClient``), the
store's ``chroma`` backend and its ``postgres`` backend are given the same calls; each refuses with an exception of
the class Chroma raises, or answers alike. ``dual`` keeps both sides in step for ``delete(limit=)`` and refuses as
the others do."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromadb.errors import DuplicateIDError, InternalError, InvalidArgumentError, NotFoundError

from tests.store.conftest import drop_store_schema
from tests.support import ephemeral_chroma
from vectorops.store import StoreError
from vectorops.store.chroma import ChromaStore
from vectorops.store.dual import DualStore
from vectorops.store.errors import UnknownIds
from vectorops.store.postgres import PostgresStore

TARGETS = ("chromadb", "chroma", "postgres")
IDS = ["a", "b", "c", "d"]  # in id order, so that Chroma's insertion order is pgvector's id order
E = np.eye(4, dtype=np.float32)
METAS = [{"k": 0, "l": [0.0, 1.0]}, {"k": 1, "f": 0.0}, None, {"k": 3, "l": [2.0]}]
URIS = ["ua", None, "uc", None]  # c: a uri and no metadata
Q = [[1.0, 0.0, 0.0, 0.0]]


@pytest.fixture(scope="module")
def ephemeral() -> Any:
    """Chroma 1.5.9 itself, in memory: the oracle."""
    return ephemeral_chroma()


def _open(target: str, name: str, ephemeral: Any, stores: dict[str, Any]) -> Any:
    if target == "chromadb":
        return ephemeral.get_or_create_collection(name, embedding_function=None)
    return stores[target].get_or_create_collection(name)


def _drop(target: str, name: str, ephemeral: Any, stores: dict[str, Any]) -> None:
    (ephemeral if target == "chromadb" else stores[target]).delete_collection(name)


@pytest.fixture
def seeded(ephemeral: Any, stores: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The same four records in Chroma itself and in both backends of the store."""
    name = f"inputs-{uuid.uuid4().hex[:8]}"
    cols = {t: _open(t, name, ephemeral, stores) for t in TARGETS}
    for col in cols.values():
        col.add(ids=IDS, embeddings=E, metadatas=METAS, uris=URIS)
    yield cols
    for target in TARGETS:
        _drop(target, name, ephemeral, stores)


REFUSED: list[tuple[str, Callable[[Any], Any], type[Exception]]] = [
    ("get ids=1", lambda c: c.get(ids=1), ValueError),
    ("get ids tuple", lambda c: c.get(ids=("a", "b")), ValueError),
    ("get ids=[]", lambda c: c.get(ids=[]), ValueError),
    ("get duplicate ids", lambda c: c.get(ids=["a", "a"]), DuplicateIDError),
    ("get include=None", lambda c: c.get(include=None), ValueError),
    ("get include tuple", lambda c: c.get(include=("documents",)), ValueError),
    ("get include [1]", lambda c: c.get(include=[1]), ValueError),
    ("get limit str", lambda c: c.get(limit="2"), TypeError),
    ("get offset float", lambda c: c.get(offset=1.0), TypeError),
    ("get where list", lambda c: c.get(where=[]), ValueError),
    ("peek limit str", lambda c: c.peek(limit="2"), TypeError),
    ("query include=None", lambda c: c.query(query_embeddings=Q, include=None), ValueError),
    ("query str embeddings", lambda c: c.query(query_embeddings=[["1", "0", "0", "0"]]), ValueError),
    ("query bool embeddings", lambda c: c.query(query_embeddings=[[True, False, False, False]]), ValueError),
    ("query tuple embedding", lambda c: c.query(query_embeddings=(1.0, 0.0, 0.0, 0.0)), ValueError),
    ("query embeddings=[]", lambda c: c.query(query_embeddings=[]), ValueError),
    ("query n_results=0", lambda c: c.query(query_embeddings=Q, n_results=0), TypeError),
    ("query n_results str", lambda c: c.query(query_embeddings=Q, n_results="2"), ValueError),
    ("query ids=1", lambda c: c.query(query_embeddings=Q, ids=1), TypeError),
    ("query unknown id", lambda c: c.query(query_embeddings=Q, ids=["zz"]), InternalError),
    ("query unknown among known", lambda c: c.query(query_embeddings=Q, ids=["a", "zz"]), InternalError),
    ("query dimensions", lambda c: c.query(query_embeddings=[[1.0, 0.0, 0.0]]), InvalidArgumentError),
    ("add ids=1", lambda c: c.add(ids=1, embeddings=Q), ValueError),
    ("add ids tuple", lambda c: c.add(ids=("z",), embeddings=Q), ValueError),
    ("add duplicate ids", lambda c: c.add(ids=["z", "z"], embeddings=Q * 2), DuplicateIDError),
    ("add empty id", lambda c: c.add(ids=[""], embeddings=Q), InvalidArgumentError),
    ("add str embeddings", lambda c: c.add(ids=["z"], embeddings=[["0", "1.5", "1", "1"]]), ValueError),
    ("add metadata int key", lambda c: c.add(ids=["z"], embeddings=Q, metadatas=[{1: "a"}]), TypeError),
    ("add metadata {}", lambda c: c.add(ids=["z"], embeddings=Q, metadatas=[{}]), ValueError),
    ("add uri int", lambda c: c.add(ids=["z"], embeddings=Q, uris=[5]), TypeError),
    ("add document int", lambda c: c.add(ids=["z"], embeddings=Q, documents=[5]), ValueError),
    ("add lengths", lambda c: c.add(ids=["z", "y"], embeddings=Q), ValueError),
    ("add dimensions", lambda c: c.add(ids=["z"], embeddings=[[1.0, 2.0, 3.0]]), InvalidArgumentError),
    ("upsert duplicate ids", lambda c: c.upsert(ids=["a", "a"], embeddings=Q * 2), DuplicateIDError),
    ("update ids=1", lambda c: c.update(ids=1, metadatas=[{"k": 1}]), ValueError),
    ("delete nothing", lambda c: c.delete(), ValueError),
    ("delete ids=1", lambda c: c.delete(ids=1), ValueError),
    ("delete ids=[]", lambda c: c.delete(ids=[]), ValueError),
    ("delete duplicate ids", lambda c: c.delete(ids=["a", "a"]), DuplicateIDError),
    ("delete limit without filter", lambda c: c.delete(ids=["a"], limit=1), ValueError),
    ("delete limit negative", lambda c: c.delete(where={"k": 1}, limit=-1), ValueError),
    ("delete limit str", lambda c: c.delete(where={"k": 1}, limit="1"), TypeError),
    ("delete limit bool", lambda c: c.delete(where={"k": 1}, limit=True), TypeError),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("case", "call", "error"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_chromas_class(seeded: dict[str, Any], target: str, case: str, call: Callable[[Any], Any],
                                    error: type[Exception]) -> None:
    col = seeded[target]
    with pytest.raises(error):
        call(col)
    assert sorted(col.get(include=[])["ids"]) == IDS, case  # nothing was written or deleted
    if target != "chromadb":
        with pytest.raises(StoreError):  # and, on the store, always a StoreError too
            call(col)


def _all(value: Any) -> dict[str, Any]:
    return {t: value for t in TARGETS}


def _answers(seeded: dict[str, Any], call: Callable[[Any], Any]) -> dict[str, Any]:
    return {t: call(seeded[t]) for t in TARGETS}


def _same(answers: dict[str, Any]) -> Any:
    chroma = answers["chromadb"]
    for target in ("chroma", "postgres"):
        got = answers[target]
        assert list(got) == list(chroma), target
        for key, value in chroma.items():
            if key in ("embeddings", "distances") and value is not None:
                assert len(got[key]) == len(value), (target, key)
                for mine, theirs in zip(got[key], value, strict=True):
                    np.testing.assert_allclose(np.asarray(mine, dtype=np.float64), np.asarray(theirs), atol=1e-6)
            else:
                assert got[key] == value, (target, key)
    return chroma


def test_metadata_of_a_record_with_a_uri_is_an_empty_dict(seeded: dict[str, Any]) -> None:
    got = _same(_answers(seeded, lambda c: c.get(include=["metadatas", "uris"])))
    assert got["metadatas"][2] == {} and got["uris"][2] == "uc"
    assert _same(_answers(seeded, lambda c: c.get(ids=["c"], include=["metadatas"])))["metadatas"] == [{}]
    found = _same(_answers(seeded, lambda c: c.query(query_embeddings=[[0.0, 0.0, 1.0, 0.0]], n_results=1,
                                                     include=["metadatas"])))
    assert found["ids"] == [["c"]] and found["metadatas"] == [[{}]]


def test_metadata_none_without_uri_and_empty_after_removing_every_key(seeded: dict[str, Any]) -> None:
    for col in seeded.values():
        col.add(ids=["e"], embeddings=[[1.0, 1.0, 0.0, 0.0]], documents=["doc only"])
        col.add(ids=["f"], embeddings=[[1.0, 1.0, 1.0, 0.0]], uris=["uf"])
        col.update(ids=["a", "b"], metadatas=[{"k": None, "l": None}, {"k": None, "f": None}])
    got = _same(_answers(seeded, lambda c: c.get(ids=["a", "b", "e", "f"], include=["metadatas"])))
    assert got["metadatas"] == [{}, None, None, {}]  # a keeps its uri, b has none


def test_query_ids_empty_is_an_empty_result(seeded: dict[str, Any]) -> None:
    two = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    got = _same(_answers(seeded, lambda c: c.query(query_embeddings=two, ids=[],
                                                   include=["embeddings", "distances", "uris"])))
    assert got["ids"] == [[], []] and got["distances"] == [[], []]
    assert _same(_answers(seeded, lambda c: c.query(query_embeddings=Q, ids=[])))["ids"] == [[]]


def test_query_ids_one_str_and_repeated(seeded: dict[str, Any]) -> None:
    assert _same(_answers(seeded, lambda c: c.query(query_embeddings=Q, ids="b", include=[])))["ids"] == [["b"]]
    assert _same(_answers(seeded, lambda c: c.query(query_embeddings=Q, ids=["b", "b"], include=[])))["ids"] == \
        [["b"]]
    assert _same(_answers(seeded, lambda c: c.query(query_embeddings=Q, ids=["a"], where={"k": 9})))["ids"] == [[]]


def test_unknown_query_ids_on_the_store_say_which(seeded: dict[str, Any]) -> None:
    with pytest.raises(UnknownIds, match=r"Error finding id.*'zz'"):
        seeded["postgres"].query(query_embeddings=Q, ids=["a", "zz"])


def test_get_ids_as_chroma_takes_them(seeded: dict[str, Any]) -> None:
    assert _same(_answers(seeded, lambda c: c.get(ids="a")))["ids"] == ["a"]
    assert _same(_answers(seeded, lambda c: c.get(ids=[""])))["ids"] == []  # matches nothing, refused by add


@pytest.mark.parametrize("where", [
    {"l": {"$contains": -0.0}}, {"l": {"$not_contains": -0.0}}, {"f": {"$eq": -0.0}}, {"f": {"$ne": -0.0}},
    {"k": {"$eq": -0.0}}, {"f": {"$in": [-0.0, 5.0]}}, {"f": {"$nin": [-0.0]}}, {"f": {"$gte": -0.0}},
    {"k": {"$lte": -0.0}}, {"f": -0.0},
])
def test_negative_zero_operands_compare_as_zero(seeded: dict[str, Any], where: dict[str, Any]) -> None:
    positive = {key: ({op: (0.0 if isinstance(v, float) else [0.0 if x == 0 else x for x in v])
                       for op, v in cond.items()} if isinstance(cond, dict) else 0.0) for key, cond in where.items()}
    answers = _answers(seeded, lambda c: sorted(c.get(where=where, include=[])["ids"]))
    assert answers["postgres"] == answers["chroma"] == answers["chromadb"], where
    assert answers["postgres"] == sorted(seeded["postgres"].get(where=positive, include=[])["ids"])


def test_negative_zero_metadata_comes_back_as_zero_as_from_chroma(seeded: dict[str, Any]) -> None:
    import math

    def write(c: Any) -> Any:
        c.add(ids=["z"], embeddings=Q, metadatas=[{"k": -0.0, "l": [-0.0, 1.5]}])
        c.upsert(ids=["y"], embeddings=Q, metadatas=[{"k": -0.0}])
        got = c.get(ids=["y", "z"], include=["metadatas"])
        return {i: {key: [math.copysign(1.0, v) for v in (value if isinstance(value, list) else [value])]
                    for key, value in meta.items()} for i, meta in zip(got["ids"], got["metadatas"], strict=True)}

    signs = _answers(seeded, write)
    assert signs["postgres"] == signs["chroma"] == signs["chromadb"] == {"y": {"k": [1.0]},
                                                                          "z": {"k": [1.0], "l": [1.0, 1.0]}}


def test_delete_limit_as_chroma(seeded: dict[str, Any]) -> None:
    assert _answers(seeded, lambda c: c.delete(where={"k": {"$gte": 0}}, limit=0)) == _all({"deleted": 0})
    assert _answers(seeded, lambda c: c.delete(where={"k": {"$gte": 0}}, limit=2)) == _all({"deleted": 2})
    assert _same(_answers(seeded, lambda c: c.get(include=[])))["ids"] == ["c", "d"]
    # ids and a filter together, limited: d is the only one of both
    assert _answers(seeded, lambda c: c.delete(ids=["c", "d"], where={"k": {"$gte": 0}}, limit=5)) == \
        _all({"deleted": 1})
    assert _answers(seeded, lambda c: c.delete(where_document={"$contains": "x"}, limit=3)) == _all({"deleted": 0})
    assert _same(_answers(seeded, lambda c: c.get(include=[])))["ids"] == ["c"]


def test_store_level_arguments(ephemeral: Any, stores: dict[str, Any]) -> None:
    for store in (ephemeral, *stores.values()):
        with pytest.raises(TypeError):
            store.get_or_create_collection(5)
        with pytest.raises(NotFoundError):
            store.get_collection("no-such-collection")
        with pytest.raises(NotFoundError):
            store.delete_collection("no-such-collection")
        with pytest.raises(InvalidArgumentError):
            store.get_or_create_collection("ab")
        with pytest.raises(InvalidArgumentError):
            store.get_or_create_collection("abc", metadata={})
        with pytest.raises(TypeError):
            store.get_or_create_collection("abc", metadata="x")


@pytest.fixture
def dual(dsn: str, tmp_path: Path) -> Iterator[DualStore]:
    schema = f"dualin_{uuid.uuid4().hex[:8]}"
    service = f"test-{schema}"
    store = DualStore(PostgresStore(dsn, table_schema=schema, service=service), ChromaStore(tmp_path), service,
                      sample_rate=1.0, seed=0)
    yield store
    store.close()
    drop_store_schema(dsn, schema, service)


def test_dual_deletes_the_same_records_on_both_sides(dual: DualStore) -> None:
    col = dual.get_or_create_collection("dual-limit")
    ids = ["m", "c", "z", "a", "k"]  # out of id order: Chroma alone would pick m and c first
    col.add(ids=ids, embeddings=np.eye(5, dtype=np.float32), metadatas=[{"n": i} for i in range(5)])
    assert col.delete(where={"n": {"$gte": 0}}, limit=2) == {"deleted": 2}
    assert sorted(col.primary.get(include=[])["ids"]) == sorted(col.shadow.get(include=[])["ids"]) == \
        ["k", "m", "z"]  # type: ignore[union-attr]
    assert dual.stats["shadow_write_errors"] == 0


def test_dual_refuses_as_the_others(dual: DualStore) -> None:
    col = dual.get_or_create_collection("dual-refuse")
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], uris=["ua", None])
    with pytest.raises(InternalError):
        col.query(query_embeddings=[[1.0, 0.0]], ids=["zz"])
    with pytest.raises(DuplicateIDError):
        col.add(ids=["x", "x"], embeddings=[[1.0, 0.0]] * 2)
    assert col.query(query_embeddings=[[1.0, 0.0]], ids=[])["ids"] == [[]]
    assert col.get(include=["metadatas"])["metadatas"] == [{}, None]
    assert dual.flush() and dual.stats["errors"] == 0 and dual.stats["disagreed"] == 0
    assert col.primary.count() == col.shadow.count() == 2  # type: ignore[union-attr]
