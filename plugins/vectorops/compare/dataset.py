"""The data both backends are measured on: generated (clustered vectors with metadata and documents) or read from
a migrated collection, with query vectors and their exact top-10 (the recall reference)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectorops.quality.exact_search import ExactTopK

RECALL_K = 10


@dataclass
class Dataset:
    """Records, queries and the reference answers.

    :param filters: one ``where`` per filtered query (``None`` entries when the data has no usable filter).
    :param truth: exact top-10 ids per query.
    """

    name: str
    space: str
    ids: list[str]
    vectors: np.ndarray
    metadatas: list[dict[str, Any] | None]
    documents: list[str | None]
    queries: np.ndarray
    filters: list[dict[str, Any] | None]
    truth: list[list[str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Number of records."""
        return len(self.ids)

    @property
    def dimensions(self) -> int:
        """Vector length."""
        return int(self.vectors.shape[1])

    def with_truth(self) -> Dataset:
        """Compute the exact top-10 of every query (numpy, in batches)."""
        top = ExactTopK(self.queries, self.space, RECALL_K)
        for start in range(0, self.rows, 20_000):
            top.add(self.ids[start:start + 20_000], self.vectors[start:start + 20_000])
        self.truth = top.result()
        return self


def recall_at_10(answers: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> float:
    """The share of the exact top-10 ids found in the answers (one answer per reference list, in order)."""
    total = sum(len(t) for t in truth)
    found = sum(len(set(got) & set(t)) for got, t in zip(answers, truth, strict=True))
    return found / total if total else 0.0


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def generated(rows: int, dims: int, queries: int, space: str = "cosine", seed: int = 0) -> Dataset:
    """Clustered vectors (like text embeddings: 64 topics), metadata of every Chroma type, short documents.

    Filtered queries ask for one ``category`` of ten (10 % of the rows) and half of the ``score`` range.
    """
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((64, dims), dtype=np.float32)
    topic_of = rng.integers(0, 64, rows)
    vectors = topics[topic_of] + 0.6 * rng.standard_normal((rows, dims), dtype=np.float32)
    query_topics = rng.integers(0, 64, queries)
    query_vectors = topics[query_topics] + 0.6 * rng.standard_normal((queries, dims), dtype=np.float32)
    if space == "cosine":
        vectors, query_vectors = _unit(vectors), _unit(query_vectors)
    metadatas: list[dict[str, Any] | None] = [
        {"category": f"c{i % 10}", "score": round(float(rng.random()), 4), "year": 2000 + i % 25,
         "public": bool(i % 3), "tags": [f"t{topic_of[i] % 8}", f"t{(topic_of[i] + 1) % 8}"]} for i in range(rows)]
    documents: list[str | None] = [f"record {i} on topic {topic_of[i]}" for i in range(rows)]
    filters: list[dict[str, Any] | None] = [
        {"$and": [{"category": f"c{q % 10}"}, {"score": {"$gte": 0.5}}]} if q % 2 else {"category": f"c{q % 10}"}
        for q in range(queries)]
    return Dataset(f"generated {rows} x {dims} ({space})", space, [f"rec{i:07d}" for i in range(rows)],
                   np.ascontiguousarray(vectors, dtype=np.float32), metadatas, documents,
                   np.ascontiguousarray(query_vectors, dtype=np.float32), filters).with_truth()


def frequent_filter(metadatas: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The most frequent scalar key/value pair covering 1–50 % of the records, as ``{key: value}``."""
    counts: Counter[tuple[str, Any, type]] = Counter()
    for meta in metadatas:
        for key, value in (meta or {}).items():
            if isinstance(value, str | int | float | bool):
                counts[(key, value, type(value))] += 1
    rows = max(1, len(metadatas))
    for (key, value, _), n in counts.most_common():
        if 0.01 <= n / rows <= 0.5:
            return {key: value}
    return None


def migrated(store: Any, collection: str, rows: int, queries: int, seed: int = 0) -> Dataset:
    """Up to ``rows`` records of a migrated collection (by id), read through the store.

    Queries are stored vectors with a little noise; the filter is the most frequent scalar metadata pair.
    """
    col = store.get_collection(collection)
    got = col.get(limit=rows, include=["embeddings", "metadatas", "documents"])
    if not got["ids"]:
        raise ValueError(f"collection {collection!r} has no records to compare on")
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(vectors), queries)
    noise = rng.standard_normal((queries, vectors.shape[1]), dtype=np.float32) * float(np.std(vectors)) * 0.1
    where = frequent_filter(got["metadatas"])
    return Dataset(f"migrated {collection!r}: {len(got['ids'])} x {vectors.shape[1]} ({col.space})", col.space,
                   list(got["ids"]), vectors, list(got["metadatas"]), list(got["documents"]),
                   np.ascontiguousarray(vectors[picks] + noise), [where] * queries).with_truth()
