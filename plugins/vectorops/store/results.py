"""Results in Chroma 1.5's shape: the same keys in the same order, ``None`` for what was not included,
embeddings as float64 numpy arrays, distances as Python floats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


class Row(NamedTuple):
    """One record as a backend read it; fields not asked for are ``None``."""

    id: str
    embedding: Any = None
    document: str | None = None
    metadata: dict[str, Any] | None = None
    uri: str | None = None
    distance: float | None = None


def _embeddings(rows: Sequence[Row]) -> np.ndarray:
    if not rows:
        return np.array([], dtype=np.float64)
    return np.array([np.asarray(r.embedding, dtype=np.float32) for r in rows], dtype=np.float64)


def get_result(rows: Sequence[Row], include: Sequence[str]) -> dict[str, Any]:
    """A ``GetResult`` dict for ``rows``."""
    return {
        "ids": [r.id for r in rows],
        "embeddings": _embeddings(rows) if "embeddings" in include else None,
        "documents": [r.document for r in rows] if "documents" in include else None,
        "uris": [r.uri for r in rows] if "uris" in include else None,
        "included": list(include),
        "data": None,
        "metadatas": [r.metadata for r in rows] if "metadatas" in include else None,
    }


def query_result(per_query: Sequence[Sequence[Row]], include: Sequence[str]) -> dict[str, Any]:
    """A ``QueryResult`` dict: one list per query vector, nearest first."""
    def each(pick: Any) -> list[Any]:
        return [[pick(r) for r in rows] for rows in per_query]

    return {
        "ids": each(lambda r: r.id),
        "embeddings": [_embeddings(rows) for rows in per_query] if "embeddings" in include else None,
        "documents": each(lambda r: r.document) if "documents" in include else None,
        "uris": each(lambda r: r.uri) if "uris" in include else None,
        "included": list(include),
        "data": None,
        "metadatas": each(lambda r: r.metadata) if "metadatas" in include else None,
        "distances": each(lambda r: float(r.distance)) if "distances" in include else None,
    }
