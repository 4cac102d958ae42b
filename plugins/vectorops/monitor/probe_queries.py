"""The probe queries: top-k through the HNSW index at a given ef_search (timed client-side), and exact top-k.

Every probe asks for k + 1 neighbours and drops its own record, on both sides, so recall is not flattered by
the probe finding itself. ANN probes run in a transaction with ``SET LOCAL hnsw.ef_search`` and
``enable_seqscan = off``; filtered ones add ``hnsw.iterative_scan = relaxed_order`` (pgvector 0.8).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops.db.rows import one_value
from vectorops.monitor.target import ProbeTarget
from vectorops.quality.exact_search import DISTANCE_OPERATORS, exact_top_k

K = 10


@dataclass(frozen=True)
class ProbeRound:
    """One pass over the probe set: the neighbours found per probe and each query's client-side time."""

    neighbours: list[list[str]]
    timings_ms: list[float]


def _ann_statement(target: ProbeTarget, filtered: bool) -> sql.Composed:
    operator = sql.SQL(DISTANCE_OPERATORS[target.space])
    column: sql.Composable
    query: sql.Composable
    if target.halfvec:
        cast = sql.SQL("::halfvec({})").format(sql.Literal(target.dimensions))
        column = sql.SQL("(embedding{})").format(cast)
        query = sql.SQL("(%(q)s::vector{})").format(cast)
    else:
        column, query = sql.SQL("embedding"), sql.SQL("%(q)s::vector")
    where = sql.SQL("WHERE metadata @> %(filter)s::jsonb ") if filtered else sql.SQL("")
    return sql.SQL("SELECT id FROM {table} {where}ORDER BY {column} {operator} {query} LIMIT %(limit)s").format(
        table=target.identifier, where=where, column=column, operator=operator, query=query)


@contextmanager
def ann_session(conn: psycopg.Connection, ef_search: int, *, iterative: bool = False) -> Iterator[None]:
    """A transaction whose queries go through the HNSW index at ``ef_search``.

    :param conn: a connection in autocommit mode.
    :param ef_search: ``hnsw.ef_search`` for the transaction.
    :param iterative: also ``SET LOCAL hnsw.iterative_scan = relaxed_order`` (for filtered queries).
    """
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(int(ef_search))))
        conn.execute("SET LOCAL enable_seqscan = off")
        if iterative:
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        yield


def _params(vector: np.ndarray, metadata_filter: dict[str, Any] | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"q": vector, "limit": limit}
    if metadata_filter is not None:
        params["filter"] = json.dumps(metadata_filter)
    return params


def ann_round(conn: psycopg.Connection, target: ProbeTarget, record_ids: Sequence[str], vectors: np.ndarray,
              ef_search: int, metadata_filter: dict[str, Any] | None = None, k: int = K) -> ProbeRound:
    """Run every probe once through the index; time each execute + fetch.

    :param conn: a connection in autocommit mode with pgvector's types registered.
    :param target: the table (with an index).
    :param record_ids: each probe's own id, dropped from its result.
    :param vectors: the probe vectors.
    :param ef_search: ``hnsw.ef_search``.
    :param metadata_filter: a ``metadata @>`` document; the scan is then iterative.
    :param k: neighbours per probe.
    """
    statement = _ann_statement(target, metadata_filter is not None)
    neighbours: list[list[str]] = []
    timings: list[float] = []
    with ann_session(conn, ef_search, iterative=metadata_filter is not None), conn.cursor() as cur:
        for record_id, vector in zip(record_ids, vectors, strict=True):
            started = time.perf_counter()
            rows = cur.execute(statement, _params(vector, metadata_filter, k + 1)).fetchall()
            timings.append((time.perf_counter() - started) * 1000.0)
            neighbours.append([r[0] for r in rows if r[0] != record_id][:k])
    return ProbeRound(neighbours, timings)


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def explain_ann(conn: psycopg.Connection, target: ProbeTarget, vector: np.ndarray, ef_search: int,
                metadata_filter: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Whether the probe query's plan goes through the table's HNSW index, and the plan in one line.

    :param conn: a connection in autocommit mode with pgvector's types registered.
    :param target: the table (with an index).
    :param vector: one probe vector.
    :param ef_search: ``hnsw.ef_search``.
    :param metadata_filter: as for :func:`ann_round`.
    """
    statement = sql.SQL("EXPLAIN (FORMAT JSON) ") + _ann_statement(target, metadata_filter is not None)
    with ann_session(conn, ef_search, iterative=metadata_filter is not None):
        document = one_value(conn.execute(statement, _params(vector, metadata_filter, K + 1)))
    if isinstance(document, str):
        document = json.loads(document)
    nodes = list(_plan_nodes(document[0]["Plan"]))
    used = any(node.get("Index Name") == target.index_name for node in nodes)
    summary = " > ".join(node["Node Type"] + (f" using {node['Index Name']}" if node.get("Index Name") else "")
                         for node in nodes)
    return used, summary


def exact_round(conn: psycopg.Connection, target: ProbeTarget, record_ids: Sequence[str], vectors: np.ndarray,
                metadata_filter: dict[str, Any] | None = None, k: int = K) -> list[list[str]]:
    """Exact top-k per probe with index scans off, leaving out each probe's own id.

    :param conn: a connection in autocommit mode.
    :param target: the table.
    :param record_ids: each probe's own id.
    :param vectors: the probe vectors.
    :param metadata_filter: only rows whose metadata contains this document.
    :param k: neighbours per probe.
    """
    return [exact_top_k(conn, target.schema, target.table, target.space, vector, k=k, exclude=[record_id],
                        metadata_filter=metadata_filter)
            for record_id, vector in zip(record_ids, vectors, strict=True)]


def recall(expected: Sequence[Sequence[str]], found: Sequence[Sequence[str]]) -> float | None:
    """Recall over all probes: neighbours found that exact search also returns ÷ neighbours exact search returns.

    :param expected: exact top-k per probe.
    :param found: approximate top-k per probe.
    :return: ``None`` when exact search returned nothing at all.
    """
    hits = sum(len(set(e) & set(f)) for e, f in zip(expected, found, strict=True))
    total = sum(len(e) for e in expected)
    return hits / total if total else None
