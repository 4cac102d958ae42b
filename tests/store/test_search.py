"""Nearest-neighbour answers agree: exact on small collections (identical ids, Chroma's distances in every space),
recall@10 of at least 0.99 through HNSW on larger ones, and ``query_texts`` embedded with the local model."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import psycopg
import pytest

from vectorops.quality.exact_search import ExactTopK

SMALL_ROWS, SMALL_DIMS = 400, 16
BIG_ROWS, BIG_DIMS = 4000, 24


def _chroma_distances(space: str, queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    q, v = queries.astype(np.float64), vectors.astype(np.float64)
    dots = q @ v.T
    if space == "ip":
        return 1.0 - dots
    if space == "cosine":
        return 1.0 - dots / (np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(v, axis=1)[None, :])
    return (q ** 2).sum(axis=1)[:, None] - 2 * dots + (v ** 2).sum(axis=1)[None, :]


def _truth(space: str, queries: np.ndarray, ids: list[str], vectors: np.ndarray, k: int) -> list[list[str]]:
    top = ExactTopK(queries, space, k)
    top.add(ids, vectors)
    return top.result()


def _pair(stores: dict[str, Any], space: str, ids: list[str], vectors: np.ndarray, **extra: Any) -> dict[str, Any]:
    name = f"search-{space}-{uuid.uuid4().hex[:8]}"
    out = {}
    for backend, store in stores.items():
        col = store.get_or_create_collection(name, metadata={"hnsw:space": space})
        for start in range(0, len(ids), 1000):
            col.add(ids=ids[start:start + 1000], embeddings=vectors[start:start + 1000],
                    **{k: v[start:start + 1000] for k, v in extra.items()})
        out[backend] = col
    return out


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_exact_search_on_small_collections(stores: dict[str, Any], space: str) -> None:
    rng = np.random.default_rng({"l2": 1, "cosine": 2, "ip": 3}[space])
    vectors = rng.standard_normal((SMALL_ROWS, SMALL_DIMS), dtype=np.float32)
    ids = [f"v{i}" for i in range(SMALL_ROWS)]
    cols = _pair(stores, space, ids, vectors)
    queries = rng.standard_normal((25, SMALL_DIMS), dtype=np.float32)
    truth = _truth(space, queries, ids, vectors, 10)
    expected = _chroma_distances(space, queries, vectors)
    index = {record_id: i for i, record_id in enumerate(ids)}
    for backend, col in cols.items():
        got = col.query(query_embeddings=queries, n_results=10, include=["distances"])
        assert got["ids"] == truth, backend
        for q, (row_ids, distances) in enumerate(zip(got["ids"], got["distances"], strict=True)):
            np.testing.assert_allclose(distances, [expected[q, index[i]] for i in row_ids], rtol=1e-4, atol=1e-4)
    assert cols["chroma"].query(query_embeddings=queries[:3], n_results=SMALL_ROWS + 5, include=[])["ids"] == \
        cols["postgres"].query(query_embeddings=queries[:3], n_results=SMALL_ROWS + 5, include=[])["ids"]


@pytest.fixture(scope="module")
def big(stores: dict[str, Any]) -> dict[str, Any]:
    """A collection above the exact-search threshold on both backends (HNSW on both)."""
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((BIG_ROWS, BIG_DIMS), dtype=np.float32)
    ids = [f"b{i:05d}" for i in range(BIG_ROWS)]
    metadatas = [{"color": ("red", "green", "blue", "amber")[i % 4], "n": i} for i in range(BIG_ROWS)]
    cols = _pair(stores, "cosine", ids, vectors, metadatas=metadatas)
    return {"cols": cols, "ids": ids, "vectors": vectors, "rng": rng}


def _recall(got: list[list[str]], truth: list[list[str]]) -> float:
    return sum(len(set(g) & set(t)) for g, t in zip(got, truth, strict=True)) / sum(len(t) for t in truth)


def _index_scans(dsn: str, info: Any) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = %s AND indexrelname = %s",
                           (info.schema, f"{info.table}_hnsw")).fetchone()
    assert row is not None, "the store-created table has no HNSW index"
    return int(row[0])


def test_hnsw_recall(big: dict[str, Any], pg_store: Any, dsn: str) -> None:
    assert BIG_ROWS > pg_store.exact_max_rows  # pgvector answers through its HNSW index here
    before = _index_scans(dsn, big["cols"]["postgres"].info)
    queries = big["rng"].standard_normal((50, BIG_DIMS), dtype=np.float32)
    truth = _truth("cosine", queries, big["ids"], big["vectors"], 10)
    for backend, col in big["cols"].items():
        assert _recall(col.query(query_embeddings=queries, n_results=10, include=[])["ids"], truth) >= 0.99, backend
    with pg_store.pool.connection() as conn:  # one caller at a time: the pool holds just the connection that ran them
        conn.execute("SELECT pg_stat_force_next_flush()")  # its counters reach pg_stat at once, not ~10 s later
    deadline = time.monotonic() + 20
    while _index_scans(dsn, big["cols"]["postgres"].info) < before + 50 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _index_scans(dsn, big["cols"]["postgres"].info) >= before + 50


def test_filtered_hnsw_recall(big: dict[str, Any]) -> None:
    queries = big["rng"].standard_normal((30, BIG_DIMS), dtype=np.float32)
    keep = [i for i in range(BIG_ROWS) if i % 4 == 1 and i >= 1000]
    truth = _truth("cosine", queries, [big["ids"][i] for i in keep], big["vectors"][keep], 10)
    where = {"$and": [{"color": "green"}, {"n": {"$gte": 1000}}]}
    for backend, col in big["cols"].items():
        got = col.query(query_embeddings=queries, n_results=10, where=where, include=[])["ids"]
        assert all(len(row) == 10 for row in got), backend
        assert _recall(got, truth) >= 0.99, backend


def test_selective_filter_through_the_index_is_complete(big: dict[str, Any]) -> None:
    # 3 matching rows out of 4,000: the iterative index scan gives up, the exact retry finds all three
    queries = big["rng"].standard_normal((3, BIG_DIMS), dtype=np.float32)
    where = {"n": {"$in": [7, 1234, 3999]}}
    for backend, col in big["cols"].items():
        got = col.query(query_embeddings=queries, n_results=10, where=where, include=[])["ids"]
        assert [sorted(row) for row in got] == [["b00007", "b01234", "b03999"]] * 3, backend


def test_query_texts_use_the_local_model(stores: dict[str, Any]) -> None:
    documents = ["The cat sleeps on the warm windowsill.", "Quarterly revenue grew by twelve percent.",
                 "Preheat the oven before baking the bread.", "The striker scored twice in the final."]
    name = f"texts-{uuid.uuid4().hex[:8]}"
    answers = {}
    for backend, store in stores.items():
        col = store.get_or_create_collection(name, metadata={"hnsw:space": "cosine"})
        col.add(ids=["pets", "finance", "cooking", "sport"], documents=documents)  # embedded by the local model
        got = col.query(query_texts=["Which animal naps in the sun?", "How do I bake a loaf?"], n_results=2,
                        include=["distances", "embeddings"])
        assert [row[0] for row in got["ids"]] == ["pets", "cooking"], backend
        assert got["embeddings"][0].shape == (2, 384)
        answers[backend] = got
    assert answers["chroma"]["ids"] == answers["postgres"]["ids"]
    np.testing.assert_allclose(np.array(answers["chroma"]["distances"]), np.array(answers["postgres"]["distances"]),
                               atol=1e-5)
