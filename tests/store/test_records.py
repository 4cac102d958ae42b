"""Writes and reads behave as Chroma's: add ignores existing ids, upsert and update merge metadata (None removes a
key), update ignores unknown ids, deletes by id and filter; results have Chroma's shape field by field."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from vectorops.store import DimensionMismatch, InvalidRecord, StoreError

DIMS = 6


def _records(col: Any) -> dict[str, tuple[Any, ...]]:
    got = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    out = {}
    for i, record_id in enumerate(got["ids"]):
        meta = got["metadatas"][i] or None  # Chroma leaves {} or None when every key was removed (see below)
        out[record_id] = (tuple(np.round(got["embeddings"][i], 5)), got["documents"][i], meta, got["uris"][i])
    return out


@pytest.fixture
def pair(stores: dict[str, Any]) -> dict[str, Any]:
    name = f"records-{uuid.uuid4().hex[:8]}"
    yield {b: s.get_or_create_collection(name) for b, s in stores.items()}
    for store in stores.values():
        store.delete_collection(name)


def _both(pair: dict[str, Any], method: str, *args: Any, **kwargs: Any) -> list[Any]:
    return [getattr(pair[b], method)(*args, **kwargs) for b in ("chroma", "postgres")]


def test_write_semantics(pair: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    e = rng.standard_normal((8, DIMS), dtype=np.float32)
    _both(pair, "add", ids=["a", "b", "c", "d"], embeddings=e[:4], documents=["da", "db", None, "dd"],
          metadatas=[{"x": 1, "y": "s"}, {"x": 2}, None, {"l": [1, 2]}], uris=["ua", None, "uc", None])
    _both(pair, "add", ids=["a", "e"], embeddings=e[4:6], metadatas=[{"x": 99}, {"x": 5}])  # a is kept as it was
    _both(pair, "upsert", ids=["a", "f"], embeddings=e[6:8], metadatas=[{"x": None, "z": 1.5}, {"k": None, "q": True}])
    _both(pair, "update", ids=["b", "nope"], metadatas=[{"x": None}, {"x": 5}])
    _both(pair, "update", ids=["c"], documents=["now"], embeddings=e[:1], uris=["u2"])
    _both(pair, "update", ids=["d"], metadatas=[{"m": "new"}])
    _both(pair, "upsert", ids=["e"], embeddings=e[1:2])  # no metadata, document or uri given: all kept
    chroma, postgres = (_records(pair[b]) for b in ("chroma", "postgres"))
    assert chroma == postgres
    assert postgres["a"][2] == {"y": "s", "z": 1.5} and postgres["b"][2] is None and postgres["f"][2] == {"q": True}
    assert postgres["c"][1:] == ("now", None, "u2") and postgres["d"][2] == {"l": [1, 2], "m": "new"}
    assert _both(pair, "count") == [6, 6]
    assert _both(pair, "delete", where={"x": {"$gte": 5}}) == [{"deleted": 1}] * 2
    _both(pair, "delete", ids=["a", "f"], where_document={"$contains": "d"})  # only a has a document with "d"
    assert sorted(pair["postgres"].get(include=[])["ids"]) == sorted(pair["chroma"].get(include=[])["ids"]) == \
        ["b", "c", "d", "f"]


def test_result_shapes(pair: dict[str, Any]) -> None:
    e = np.random.default_rng(4).standard_normal((3, DIMS), dtype=np.float32)
    _both(pair, "add", ids=["a", "b", "c"], embeddings=e, documents=["x", None, "z"],
          metadatas=[{"k": 1}, None, {"k": 2.5}], uris=["u", None, None])
    for kwargs in ({}, {"include": []}, {"include": ["embeddings", "uris"]}, {"ids": ["zz"], "include": [
            "embeddings", "metadatas", "documents", "uris"]}, {"where": {"k": 1}}, {"limit": 2, "offset": 1}):
        chroma, postgres = _both(pair, "get", **kwargs)
        assert list(chroma) == list(postgres) and chroma["included"] == postgres["included"], kwargs
        for key in ("embeddings",):
            if chroma[key] is None:
                assert postgres[key] is None
            else:
                assert isinstance(postgres[key], np.ndarray) and postgres[key].dtype == chroma[key].dtype
                assert postgres[key].shape == chroma[key].shape
        if "limit" not in kwargs:  # pages differ: Chroma pages in insertion order, pgvector by id
            order = np.argsort(chroma["ids"]), np.argsort(postgres["ids"])
            for key in ("ids", "documents", "metadatas", "uris"):
                if chroma[key] is None:
                    assert postgres[key] is None, (key, kwargs)
                else:
                    assert [chroma[key][i] for i in order[0]] == [postgres[key][i] for i in order[1]], (key, kwargs)
    q = e[:2] + 0.01
    for include in (None, [], ["embeddings", "distances", "uris", "documents", "metadatas"]):
        given = {} if include is None else {"include": include}  # None: the default (Chroma refuses include=None)
        chroma, postgres = _both(pair, "query", query_embeddings=q, n_results=2, **given)
        assert list(chroma) == list(postgres) and chroma["ids"] == postgres["ids"], include
        for key in ("documents", "metadatas", "uris"):
            assert chroma[key] == postgres[key], (key, include)
        if chroma["embeddings"] is not None:
            assert [a.shape for a in chroma["embeddings"]] == [a.shape for a in postgres["embeddings"]]
            np.testing.assert_allclose(np.array(chroma["embeddings"]), np.array(postgres["embeddings"]), rtol=1e-6)
        if chroma["distances"] is not None:
            assert all(type(d) is float for row in postgres["distances"] for d in row)
            np.testing.assert_allclose(chroma["distances"], postgres["distances"], rtol=1e-5)
    chroma, postgres = _both(pair, "query", query_embeddings=q[0], where={"k": 99},
                             include=["embeddings", "documents", "metadatas", "distances", "uris"])
    assert postgres == {**chroma, "embeddings": postgres["embeddings"]} and postgres["embeddings"][0].size == 0


def test_paging_covers_every_record_once(pair: dict[str, Any]) -> None:
    e = np.random.default_rng(5).standard_normal((25, DIMS), dtype=np.float32)
    ids = [f"p{(i * 7) % 25:02d}" for i in range(25)]  # inserted out of id order
    _both(pair, "add", ids=ids, embeddings=e)
    for col in pair.values():
        pages = [col.get(limit=10, offset=o, include=[])["ids"] for o in (0, 10, 20)]
        assert [len(p) for p in pages] == [10, 10, 5]
        assert sorted(i for page in pages for i in page) == sorted(ids)
    assert pair["postgres"].get(limit=3, include=[])["ids"] == ["p00", "p01", "p02"]  # pgvector pages by id


@pytest.mark.parametrize(("call", "error"), [
    (lambda c: c.add(ids=["a", "a"], embeddings=[[0.0] * DIMS] * 2), StoreError),
    (lambda c: c.add(ids=[""], embeddings=[[0.0] * DIMS]), StoreError),
    (lambda c: c.add(ids=["a"], embeddings=[[float("nan")] * DIMS]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], metadatas=[{}]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], metadatas=[{"$k": 1}]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], metadatas=[{"k": [1, "x"]}]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], metadatas=[{"k": {"n": 1}}]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], metadatas=[{"k": None}]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], documents=["nul\x00"]), InvalidRecord),
    (lambda c: c.add(ids=["a"], embeddings=[[0.0] * DIMS], metadatas=[{"k": float("inf")}]), InvalidRecord),
    (lambda c: c.add(ids=["a"], metadatas=[{"k": 1}]), StoreError),
    (lambda c: c.add(ids=["a", "b"], embeddings=[[0.0] * DIMS]), StoreError),
    (lambda c: c.add(ids=["b"], embeddings=[[0.0] * (DIMS + 1)]), DimensionMismatch),
    (lambda c: c.query(query_embeddings=[[0.0] * (DIMS - 1)]), DimensionMismatch),
    (lambda c: c.query(query_embeddings=[[0.0] * DIMS], n_results=0), StoreError),
    (lambda c: c.query(query_embeddings=[[0.0] * DIMS], query_texts=["x"]), StoreError),
    (lambda c: c.get(include=["distances"]), StoreError),
    (lambda c: c.get(include=["data"]), StoreError),
    (lambda c: c.get(ids=["a", "a"]), StoreError),
    (lambda c: c.get(offset=-1), StoreError),
    (lambda c: c.delete(), StoreError),
])
def test_refused_alike(pair: dict[str, Any], call: Any, error: type[Exception]) -> None:
    for col in pair.values():
        col.add(ids=["seed"], embeddings=[[0.5] * DIMS])
        with pytest.raises(error):
            call(col)
        assert col.count() == 1
