"""Parity of a loaded table with its Chroma source on samples: exact equality, and top-10 overlap.

Chroma answers queries from its HNSW graph, so its answer is approximate; the overlap check also uses the
source's exact top-10 (computed during the checksum pass) to tell a data problem from Chroma's own recall.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops import chroma_api_child, chroma_source, embedding, reembed
from vectorops.chroma_source import SourceSpec
from vectorops.exact_search import exact_top_k
from vectorops.parity import canonical_metadata, model_agreement
from vectorops.quality_suites import ExpectationOutcome
from vectorops.records import printable_id
from vectorops.reembed import EmbeddingPlan

MIN_TOP10_OVERLAP = 0.99
MAX_EXCLUDED = 1000  # beyond this many differing records, Chroma's top-10 may hold fewer than 10 comparable ids


def sample_ids(conn: psycopg.Connection, schema: str, table: str, size: int, seed: int) -> list[str]:
    """A seeded random sample of the table's ids (the same seed gives the same sample)."""
    rows = conn.execute(sql.SQL("SELECT id FROM {} ORDER BY md5(id || %s::text), id LIMIT %s").format(
        sql.Identifier(schema, table)), (seed, size)).fetchall()
    return [r[0] for r in rows]


def query_sample(conn: psycopg.Connection, schema: str, table: str, ids: list[str],
                 count: int) -> tuple[list[str], np.ndarray]:
    """Up to ``count`` of ``ids`` with a non-zero stored vector, and those vectors as query vectors."""
    stored = {r[0]: np.frombuffer(bytes(r[1]), dtype=">f4").astype(np.float32) for r in conn.execute(sql.SQL(
        "SELECT id, substr(vector_send(embedding), 5) FROM {} WHERE id = ANY(%s) AND embedding IS NOT NULL").format(
        sql.Identifier(schema, table)), (ids,))}
    chosen = [i for i in ids if i in stored and np.any(stored[i])][:count]
    matrix = np.vstack([stored[i] for i in chosen]) if chosen else np.zeros((0, 0), dtype=np.float32)
    return chosen, matrix


def _reads_files(spec: SourceSpec, collection: str, space: str) -> bool:
    return chroma_source.store_files(spec, collection, space) is not None


def _api_fetch(spec: SourceSpec, collection: str, space: str, ids: list[str]) -> chroma_source.RecordBatch:
    """The sample through Chroma's own API: a cross-check of the files reader when the load used it.

    Then in a child process, as Chroma's client loads the whole HNSW index, which the load never needed.
    """
    if _reads_files(spec, collection, space):
        return chroma_api_child.fetch(spec, collection, ids)
    return chroma_source.fetch(spec, collection, ids)


def _api_query(spec: SourceSpec, collection: str, space: str, queries: np.ndarray, n_results: int
               ) -> list[list[str]]:
    """Chroma's own top-``n_results`` ids for ``queries`` (in a child process when the load read the files)."""
    if _reads_files(spec, collection, space):
        return chroma_api_child.query_ids(spec, collection, queries, n_results)
    return chroma_api_child.query_ids_here(spec, collection, queries, n_results)


def sample_equality(conn: psycopg.Connection, *, spec: SourceSpec, collection: str, schema: str, table: str,
                    plan: EmbeddingPlan, space: str, ids: list[str], seed: int) -> list[ExpectationOutcome]:
    """Exact equality with the source for a seeded sample of ids (re-embedded vectors: against the model)."""
    if not ids:
        return []
    stored = {r[0]: r[1:] for r in conn.execute(sql.SQL(
        """SELECT id, substr(vector_send(embedding), 5), document, metadata, uri FROM {}
           WHERE id = ANY(%s)""").format(sql.Identifier(schema, table)), (ids,))}
    batch = _api_fetch(spec, collection, space, ids)
    matrix, unusable = reembed.source_vectors(batch.embeddings, len(batch.ids), plan, space)
    unequal: list[str] = []
    model_rows: list[tuple[str, str, bytes]] = []
    for i, record_id in enumerate(ids):
        vector, document, metadata, uri = stored[record_id]
        if vector is not None and reembed.gets_new_vector(plan, batch.documents[i], unusable[i]):
            model_rows.append((record_id, batch.documents[i], bytes(vector)))
            vector_equal = True
        else:
            vector_equal = vector is not None and matrix[i].astype(">f4").tobytes() == bytes(vector)
        if vector is None:
            unequal.append(record_id)
            continue
        same = (vector_equal and document == batch.documents[i] and uri == batch.uris[i]
                and canonical_metadata(metadata) == canonical_metadata(batch.metadatas[i]))
        if not same:
            unequal.append(record_id)
    outcomes = [ExpectationOutcome("sample_exact_equality", not unequal, {
        "seed": seed, "sampled": len(ids), "unequal": len(unequal), "samples": unequal[:5]}, "vectorops.parity")]
    if model_rows:
        outcomes.append(model_agreement("sample_matches_model_embedding", model_rows, plan.model))
    return outcomes


def _overlap(expected: list[list[str]], found: list[list[str]]) -> float:
    hits = sum(len(set(e) & set(f)) for e, f in zip(expected, found, strict=True))
    total = sum(min(10, len(e)) for e in expected)
    return hits / total if total else 1.0


def top10_overlap(conn: psycopg.Connection, *, spec: SourceSpec, collection: str, schema: str, table: str,
                  plan: EmbeddingPlan, space: str, query_ids: list[str], queries: np.ndarray,
                  source_exact: list[list[str]] | None, differ: set[str]) -> ExpectationOutcome:
    """Top-10 overlap between Chroma's query and pgvector's exact search for the sample queries.

    Chroma answers from its HNSW graph, so its recall bounds the overlap: it passes at 0.99, or when pgvector's
    exact answer matches the source's exact answer (0.99) and agrees with Chroma at least as well as Chroma's own
    exact answer does. Re-embedded collections compare against the model's embedding of the documents instead.

    :param source_exact: the source's exact top-10 per query (from the checksum pass), when vectors were copied.
    :param differ: ids whose table vector differs from the source on purpose (quarantined, re-embedded).
    """
    if not query_ids:
        return ExpectationOutcome("top10_overlap", True, {"queries": 0}, "vectorops.parity")
    if plan.mode == reembed.COLLECTION:
        documents = {r[0]: r[1] for r in conn.execute(sql.SQL(
            "SELECT id, document FROM {} WHERE id = ANY(%s) AND document IS NOT NULL").format(
            sql.Identifier(schema, table)), (query_ids,))}
        chosen = [n for n, i in enumerate(query_ids) if i in documents]
        fresh = embedding.encode([documents[query_ids[n]] for n in chosen], plan.model) if chosen else queries[:0]
        expected = [exact_top_k(conn, schema, table, space, vector) for vector in fresh]
        found = [exact_top_k(conn, schema, table, space, queries[n]) for n in chosen]
        overlap = _overlap(expected, found)
        return ExpectationOutcome("top10_overlap", overlap >= MIN_TOP10_OVERLAP, {
            "queries": len(chosen), "overlap": round(overlap, 4), "threshold": MIN_TOP10_OVERLAP,
            "against": "pgvector exact search with the target model's embedding of the same documents"},
            "vectorops.parity")
    # records that differ on purpose are in Chroma but not (as they were) in the table: ask Chroma for enough
    # extra neighbours to drop them, and leave them out of the table's search too
    in_table = _stored_ids(conn, schema, table, differ)
    extra = min(len(differ), MAX_EXCLUDED)
    chroma = [[i for i in r if i not in differ][:10] for r in _api_query(spec, collection, space, queries, 10 + extra)]
    found = [exact_top_k(conn, schema, table, space, vector, exclude=in_table) for vector in queries]
    overlap = _overlap(chroma, found)
    observed: dict[str, Any] = {"queries": len(query_ids), "overlap": round(overlap, 4),
                                "threshold": MIN_TOP10_OVERLAP, "against": "Chroma's query"}
    success = overlap >= MIN_TOP10_OVERLAP
    if source_exact is not None:
        exact = [[i for i in r if i not in differ][:10] for r in source_exact]
        chroma_recall, source_overlap = _overlap(exact, chroma), _overlap(exact, found)
        observed.update({"chroma_recall_vs_source_exact": round(chroma_recall, 4),
                         "overlap_with_source_exact": round(source_overlap, 4)})
        success = success or (source_overlap >= MIN_TOP10_OVERLAP and overlap >= chroma_recall - 0.005)
    return ExpectationOutcome("top10_overlap", success, observed, "vectorops.parity")


def _stored_ids(conn: psycopg.Connection, schema: str, table: str, ids: Collection[str]) -> set[str]:
    """Which of ``ids`` the table holds (ids PostgreSQL text cannot hold are never there)."""
    storable = [i for i in ids if printable_id(i) == i]
    return {r[0] for r in conn.execute(sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(
        sql.Identifier(schema, table)), (storable,))}
