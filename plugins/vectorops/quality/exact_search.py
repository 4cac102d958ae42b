"""Exact (brute-force) top-k search, on both sides of a migration: numpy over streamed source vectors, and
pgvector with its indexes switched off. Ties are broken by id on both sides, as ``ORDER BY distance, id``."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

DISTANCE_OPERATORS = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}


def _distances(space: str, queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """(queries, vectors) distances that order like pgvector's operator for ``space``."""
    dots = queries @ vectors.T
    if space == "ip":
        return -dots
    if space == "cosine":
        norms = np.linalg.norm(queries, axis=1)[:, None] * np.linalg.norm(vectors, axis=1)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - dots / norms
    # squared L2 orders like L2
    return (queries ** 2).sum(axis=1)[:, None] - 2 * dots + (vectors ** 2).sum(axis=1)[None, :]


class ExactTopK:
    """Running exact top-k of a few queries over vectors that arrive in batches (memory: k per query).

    :param queries: float (q, d) query vectors.
    :param space: ``l2`` | ``cosine`` | ``ip``.
    :param k: neighbours kept per query.
    """

    def __init__(self, queries: np.ndarray, space: str, k: int = 10) -> None:
        self.queries = np.asarray(queries, dtype=np.float64)
        self.space = space
        self.k = k
        self.best: list[list[tuple[float, str]]] = [[] for _ in range(len(self.queries))]

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Offer a batch of candidates."""
        if not len(ids) or not len(self.queries):
            return
        distances = _distances(self.space, self.queries, np.asarray(vectors, dtype=np.float64))
        # an undefined distance (a zero vector under cosine) sorts last, as PostgreSQL sorts NaN; left as NaN it made
        # the cutoff NaN and dropped the whole batch
        distances = np.where(np.isnan(distances), np.inf, distances)
        take = min(self.k, len(ids))
        for q, row in enumerate(distances):
            nearest = np.argpartition(row, take - 1)[:take] if take < len(ids) else range(len(ids))
            # candidates tied with the k-th distance must stay, or the id tie-break could pick wrongly
            cutoff = max(float(row[i]) for i in nearest)
            tied = np.flatnonzero(row <= cutoff)
            merged = self.best[q] + [(float(row[i]), ids[i]) for i in map(int, tied)]
            self.best[q] = sorted(merged)[:self.k]

    def result(self) -> list[list[str]]:
        """The ids of the k nearest candidates per query, nearest first."""
        return [[record_id for _, record_id in best] for best in self.best]

    def nearest_outside(self, exclude: Collection[str], k: int) -> list[list[str] | None]:
        """Per query, the ``k`` nearest candidates not in ``exclude``, or ``None`` where the kept ``self.k`` cannot
        tell (more than ``self.k - k`` of them excluded, and more candidates offered than kept).

        :param exclude: ids to leave out.
        :param k: neighbours wanted, at most ``self.k``.
        """
        if k > self.k:
            raise ValueError(f"{k} neighbours wanted from a top {self.k}")
        answers: list[list[str] | None] = []
        for best in self.best:
            kept = [record_id for _, record_id in best if record_id not in exclude]
            # a full list that lost too many to ``exclude`` may lack a farther candidate it dropped
            answers.append(kept[:k] if len(kept) >= k or len(best) < self.k else None)
        return answers


def exact_top_k(conn: psycopg.Connection, schema: str, table: str, space: str, query: np.ndarray, k: int = 10,
                exclude: Collection[str] = (), metadata_filter: Mapping[str, Any] | None = None) -> list[str]:
    """The ``k`` nearest ids by exact search in pgvector (no index), leaving out ``exclude``.

    :param metadata_filter: only rows whose metadata contains this JSON document (``metadata @> filter``).
    """
    operator = sql.SQL(DISTANCE_OPERATORS[space])
    where = sql.SQL("AND metadata @> %s::jsonb ") if metadata_filter is not None else sql.SQL("")
    params: list[Any] = [list(exclude)]
    if metadata_filter is not None:
        params.append(json.dumps(metadata_filter))
    params += ["[" + ",".join(repr(float(x)) for x in query) + "]", k]
    with conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        rows = conn.execute(sql.SQL("SELECT id FROM {} WHERE embedding IS NOT NULL AND id <> ALL(%s) {}"
                                    "ORDER BY embedding {} %s::vector, id LIMIT %s").format(
            sql.Identifier(schema, table), where, operator), params).fetchall()
    return [r[0] for r in rows]
