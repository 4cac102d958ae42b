"""The probe queries: top-k through the table's vector index at a given value of its kind's knob (timed
client-side), and exact top-k.

Every probe asks for k + 1 neighbours and drops its own record, on both sides, so recall is not flattered by
the probe finding itself. ANN probes are composed by :func:`vectorops.load.index_kinds.nearest_ids` for the
index's kind (a re-ranked kind re-orders its candidates by the full vector), and run in a transaction with the
kind's settings (:func:`vectorops.load.index_kinds.search_settings`: ``hnsw.ef_search`` or ``ivfflat.probes``) and
``enable_seqscan = off``; filtered ones also keep the kind's iterative scan (``relaxed_order``, pgvector 0.8).
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
from vectorops.load import index_kinds
from vectorops.monitor.target import ProbeTarget
from vectorops.quality.exact_search import exact_top_k

K = 10


@dataclass(frozen=True)
class ProbeRound:
    """One pass over the probe set: the neighbours found per probe and each query's client-side time."""

    neighbours: list[list[str]]
    timings_ms: list[float]


def _ann_statement(target: ProbeTarget, filtered: bool) -> sql.Composed:
    where = sql.SQL("metadata @> %(filter)s::jsonb") if filtered else sql.SQL("TRUE")
    return index_kinds.nearest_ids(target.column, target.identifier, sql.SQL("%(q)s::vector"), where,
                                   sql.SQL("%(limit)s"), sql.SQL("%(depth)s"))


@contextmanager
def ann_session(conn: psycopg.Connection, kind: str, effort: int, *, iterative: bool = False) -> Iterator[None]:
    """A transaction whose queries go through a ``kind`` index at ``effort`` (the kind's knob).

    :param conn: a connection in autocommit mode.
    :param kind: the index's kind (see :mod:`vectorops.load.index_kinds`).
    :param effort: ``hnsw.ef_search``, ``ivfflat.probes`` or the re-rank depth, for the transaction.
    :param iterative: keep the kind's iterative scan (``relaxed_order``, for filtered queries); off otherwise, so
        that an unfiltered probe gets what the knob's value alone gives.
    """
    with conn.transaction():
        for name, value in index_kinds.search_settings(kind, effort):
            if iterative or not name.endswith(".iterative_scan"):
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        conn.execute("SET LOCAL enable_seqscan = off")
        yield


def _params(target: ProbeTarget, vector: np.ndarray, metadata_filter: dict[str, Any] | None, limit: int,
            effort: int) -> dict[str, Any]:
    # the candidates a re-ranked kind re-orders, as the store takes them
    params: dict[str, Any] = {"q": vector, "limit": limit,
                              "depth": index_kinds.rerank_depth(target.column, effort, limit)}
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
    :param ef_search: the value of the index kind's knob (``target.knob``).
    :param metadata_filter: a ``metadata @>`` document; the scan is then iterative.
    :param k: neighbours per probe.
    """
    statement = _ann_statement(target, metadata_filter is not None)
    neighbours: list[list[str]] = []
    timings: list[float] = []
    with ann_session(conn, str(target.kind), ef_search, iterative=metadata_filter is not None), \
            conn.cursor() as cur:
        for record_id, vector in zip(record_ids, vectors, strict=True):
            started = time.perf_counter()
            rows = cur.execute(statement, _params(target, vector, metadata_filter, k + 1, ef_search)).fetchall()
            timings.append((time.perf_counter() - started) * 1000.0)
            neighbours.append([r[0] for r in rows if r[0] != record_id][:k])
    return ProbeRound(neighbours, timings)


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def explain_ann(conn: psycopg.Connection, target: ProbeTarget, vector: np.ndarray, ef_search: int,
                metadata_filter: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Whether the probe query's plan goes through the table's vector index (of any kind: a re-ranked kind's
    index scan is inside its candidates' subquery), and the plan in one line.

    :param conn: a connection in autocommit mode with pgvector's types registered.
    :param target: the table (with an index).
    :param vector: one probe vector.
    :param ef_search: the value of the index kind's knob.
    :param metadata_filter: as for :func:`ann_round`.
    """
    statement = sql.SQL("EXPLAIN (FORMAT JSON) ") + _ann_statement(target, metadata_filter is not None)
    with ann_session(conn, str(target.kind), ef_search, iterative=metadata_filter is not None):
        document = one_value(conn.execute(statement, _params(target, vector, metadata_filter, K + 1, ef_search)))
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
