"""Parity of a loaded table with its Chroma source on samples: exact equality, and top-10 overlap.

Chroma answers queries from its HNSW graph, so its answer is approximate; the overlap check also uses the
source's exact top-10 (computed during the checksum pass) to tell a data problem from Chroma's own recall.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops.chroma import api_child, locate, source
from vectorops.chroma.files.versions import PYTHON
from vectorops.chroma.source import SourceSpec
from vectorops.embedding import model, policy
from vectorops.migration.plan import CollectionPlan
from vectorops.quality.canonical import canonical_metadata
from vectorops.quality.exact_search import ExactTopK, exact_top_k
from vectorops.quality.parity import model_agreement
from vectorops.quality.suites import ExpectationOutcome
from vectorops.records import printable_id

#: the least top-10 overlap with Chroma's own query that lets a table be promoted (``VECTOROPS_MIN_TOP10_OVERLAP``)
MIN_TOP10_OVERLAP = 0.95
#: neighbours asked of Chroma per query: its HNSW search looks at least this wide, so its top 10 are near exact
CHROMA_QUERY_K = 500
#: Chroma computes distances in float32, the check in float64 from the same float32 vectors
DISTANCE_REL_TOLERANCE = 1e-3
DISTANCE_ABS_TOLERANCE = 1e-4
MAX_EXCLUDED = 1000  # beyond this many differing records, Chroma's top-10 may hold fewer than 10 comparable ids


def neighbours_to_ask(differ: Collection[str]) -> int:
    """How many neighbours to ask Chroma per query: :data:`CHROMA_QUERY_K`, plus room to drop ``differ``."""
    return CHROMA_QUERY_K + min(len(differ), MAX_EXCLUDED)


def ask_chroma(spec: SourceSpec, collection: str, ids: list[str], queries: np.ndarray,
               n_results: int) -> api_child.Answers:
    """Chroma's own records for the sample ``ids`` and its neighbours of ``queries``, in one call.

    For a local store in one child process on one private copy (:mod:`vectorops.chroma.snapshot`): Chroma's
    client writes to the store it opens and loads the whole HNSW index, which the load never needed.

    :param n_results: neighbours per query; ``0`` asks no query.
    """
    if not ids and not (len(queries) and n_results):
        return None, None
    if spec.host:
        return api_child.crosscheck_here(spec, collection, ids, queries, n_results)
    return api_child.crosscheck(spec, collection, ids, queries, n_results)


def sample_equality(conn: psycopg.Connection, plan: CollectionPlan, *, ids: list[str], seed: int,
                    batch: source.RecordBatch | None) -> list[ExpectationOutcome]:
    """Exact equality with the source for a seeded sample of ids (re-embedded vectors: against the model).

    :param conn: a connection to the database of the plan's shadow table.
    :param plan: the collection's plan; its shadow table is checked.
    :param ids: the sampled ids.
    :param seed: the sample's seed, recorded with the outcome.
    :param batch: Chroma's own records for ``ids`` (:func:`ask_chroma`).
    """
    spec, collection, schema, table, space = plan.source, plan.collection, plan.schema, plan.shadow, plan.info.space
    embedding = plan.embedding
    if not ids or batch is None:
        return []
    stored = {r[0]: r[1:] for r in conn.execute(sql.SQL(
        """SELECT id, substr(vector_send(embedding), 5), document, metadata, uri FROM {}
           WHERE id = ANY(%s)""").format(sql.Identifier(schema, table)), (ids,))}
    matrix, unusable = policy.source_vectors(batch.embeddings, len(batch.ids), embedding, space)
    unequal: list[str] = []
    last_bit: list[str] = []
    model_rows: list[tuple[str, str, bytes]] = []
    ulp_ok = _replays_cosine_differently(spec, collection, space)
    for i, record_id in enumerate(ids):
        vector, document, metadata, uri = stored[record_id]
        chroma_document = batch.documents[i]
        if (vector is not None and chroma_document is not None
                and policy.gets_new_vector(embedding, chroma_document, unusable[i])):
            model_rows.append((record_id, chroma_document, bytes(vector)))
            vector_equal = True
        else:
            vector_equal = vector is not None and matrix[i].astype(">f4").tobytes() == bytes(vector)
            if not vector_equal and vector is not None and ulp_ok and _within_one_ulp(matrix[i], bytes(vector)):
                vector_equal = True
                last_bit.append(record_id)
        if vector is None:
            unequal.append(record_id)
            continue
        same = (vector_equal and document == batch.documents[i] and uri == batch.uris[i]
                and canonical_metadata(metadata) == canonical_metadata(batch.metadatas[i]))
        if not same:
            unequal.append(record_id)
    observed: dict[str, Any] = {"seed": seed, "sampled": len(ids), "unequal": len(unequal), "samples": unequal[:5]}
    if ulp_ok:
        observed["cosine_last_bit"] = len(last_bit)
    outcomes = [ExpectationOutcome("sample_exact_equality", not unequal, observed, "vectorops.parity")]
    if model_rows:
        outcomes.append(model_agreement("sample_matches_model_embedding", model_rows, embedding.model))
    return outcomes


def _replays_cosine_differently(spec: SourceSpec, collection: str, space: str) -> bool:
    """Whether the API may return a cosine vector one float32 step off what the store's own Chroma returned.

    A chromadb 0.4–0.6 store's ``get()`` returns the vector as logged for a write still in its brute-force
    buffer, where the installed 1.x client (reading the private copy) returns it normalised and scaled back by its
    norm, which may differ in the last bit. The table holds what the writer's own ``get()`` returned.
    """
    if space != "cosine" or spec.host:
        return False
    files = locate.store_files(spec, collection, space)
    return files is not None and files.writer == PYTHON


def _within_one_ulp(vector: np.ndarray, stored: bytes) -> bool:
    ours = np.frombuffer(stored, dtype=">f4").astype("<f4").view(np.int32).astype(np.int64)
    theirs = np.asarray(vector, dtype="<f4").view(np.int32).astype(np.int64)
    return ours.shape == theirs.shape and bool(np.all(np.abs(ours - theirs) <= 1))


def _overlap(expected: list[list[str]], found: list[list[str]]) -> float:
    hits = sum(len(set(e) & set(f)) for e, f in zip(expected, found, strict=True))
    total = sum(min(10, len(e)) for e in expected)
    return hits / total if total else 1.0


def chroma_distance(space: str, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Distances as Chroma reports them: squared L2, ``1 - cos`` or ``1 - dot``, in float64."""
    q = np.asarray(query, dtype=np.float64)
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, q.size)
    if space == "l2":
        return ((v - q) ** 2).sum(axis=1)
    if space == "ip":
        ip: np.ndarray = 1.0 - v @ q
        return ip
    norms = np.linalg.norm(v, axis=1) * np.linalg.norm(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (v @ q) / norms
    return 1.0 - np.where(norms > 0, cosine, 0.0)  # hnswlib leaves a zero vector zero: its distance is 1


def _agrees(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= DISTANCE_ABS_TOLERANCE + DISTANCE_REL_TOLERANCE * abs(theirs)


def _table_vectors(conn: psycopg.Connection, schema: str, table: str, ids: Collection[str]) -> dict[str, np.ndarray]:
    return {r[0]: np.frombuffer(bytes(r[1]), dtype=">f4").astype(np.float64) for r in conn.execute(sql.SQL(
        "SELECT id, substr(vector_send(embedding), 5) FROM {} WHERE id = ANY(%s) AND embedding IS NOT NULL").format(
        sql.Identifier(schema, table)), (list(ids),))}


def top10_overlap(conn: psycopg.Connection, plan: CollectionPlan, *, query_ids: list[str], queries: np.ndarray,
                  source_exact: list[list[str]] | None, differ: set[str],
                  neighbours: tuple[list[list[str]], list[list[float]]] | None,
                  min_overlap: float = MIN_TOP10_OVERLAP, table_exact: ExactTopK | None = None
                  ) -> ExpectationOutcome:
    """Top-10 agreement between Chroma's own ``query`` and the table's exact search: enforced.

    Chroma is asked for :data:`CHROMA_QUERY_K` neighbours (its HNSW search then looks that wide, so its top 10
    are near exact) and its first 10 are compared with the table's exact top 10 in the table's space: from
    ``table_exact`` when the parity pass computed it over the table's rows, else pgvector's exact search. A
    Chroma neighbour outside the table's 10 still counts when it ties the table's 10th distance. It passes only
    when

    * the overlap is at least ``min_overlap``, or every Chroma neighbour outside the table's 10 is farther than
      the table's 10th (Chroma's HNSW missed a neighbour: at 1M rows its own recall can fall below the threshold
      while the table's exact search agrees with the source's in full), and
    * every distance Chroma reported equals the distance computed from the table's vector in the table's space
      (within :data:`DISTANCE_REL_TOLERANCE`): a table loaded in the wrong space fails here whatever the overlap.

    The source's own exact top 10 (from the checksum pass) is recorded beside it, for diagnosis only: it uses the
    space this migration resolved, so it cannot vouch for that space. Re-embedded collections compare against
    the model's embedding of the documents instead, since Chroma holds other vectors.

    :param conn: a connection to the database of the plan's shadow table.
    :param plan: the collection's plan; its shadow table is checked.
    :param query_ids: the ids whose vectors are the queries.
    :param queries: the query vectors.
    :param source_exact: the source's exact top-10 per query (from the checksum pass), when vectors were copied.
    :param differ: ids whose table vector differs from the source on purpose (quarantined, re-embedded).
    :param neighbours: Chroma's :func:`neighbours_to_ask` neighbours (ids, distances) of ``queries``
        (:func:`ask_chroma`).
    :param min_overlap: the least overlap that passes.
    :param table_exact: the exact top-k of the table's own vectors per query, k above 10 so that the rows left
        out here can be dropped from it; a query it cannot answer that way is searched by pgvector.
    """
    collection, schema, table, space = plan.collection, plan.schema, plan.shadow, plan.info.space
    embedding = plan.embedding
    if not query_ids:
        return ExpectationOutcome("top10_overlap", True, {"queries": 0}, "vectorops.parity")
    if embedding.mode == policy.COLLECTION:
        documents = {r[0]: r[1] for r in conn.execute(sql.SQL(
            "SELECT id, document FROM {} WHERE id = ANY(%s) AND document IS NOT NULL").format(
            sql.Identifier(schema, table)), (query_ids,))}
        chosen = [n for n, i in enumerate(query_ids) if i in documents]
        fresh = model.encode([documents[query_ids[n]] for n in chosen], embedding.model) if chosen else queries[:0]
        expected = [exact_top_k(conn, schema, table, space, vector) for vector in fresh]
        found = [exact_top_k(conn, schema, table, space, queries[n]) for n in chosen]
        overlap = _overlap(expected, found)
        return ExpectationOutcome("top10_overlap", overlap >= min_overlap, {
            "queries": len(chosen), "overlap": round(overlap, 4), "threshold": min_overlap,
            "against": "pgvector exact search with the target model's embedding of the same documents"},
            "vectorops.parity")
    # records that differ on purpose are in Chroma but not (as they were) in the table: ask Chroma for enough
    # extra neighbours to drop them, and leave them out of the table's search too
    in_table = _stored_ids(conn, schema, table, differ)
    asked = neighbours_to_ask(differ)
    if neighbours is None:
        raise ValueError(f"collection {collection!r}: the top-10 check needs Chroma's neighbours of its queries")
    ids, distances = neighbours
    chroma = [[(i, d) for i, d in zip(r, ds, strict=True) if i not in differ][:10] for r, ds in zip(ids, distances,
                                                                                                     strict=True)]
    computed = table_exact.nearest_outside(in_table, 10) if table_exact is not None else [None] * len(queries)
    found = [answer if answer is not None else exact_top_k(conn, schema, table, space, vector, exclude=in_table)
             for answer, vector in zip(computed, queries, strict=True)]
    vectors = _table_vectors(conn, schema, table, {i for r in chroma for i, _ in r} | {i for r in found for i in r})
    score = score_against_chroma(space, queries, chroma, found, vectors)
    overlap = score.overlap
    mismatches = score.mismatches
    observed: dict[str, Any] = {
        "queries": len(query_ids), "overlap": round(overlap, 4), "threshold": min_overlap,
        "against": f"Chroma's query (n_results={asked})", "space": space, "distances_compared": score.compared,
        "distance_mismatches": len(mismatches), "mismatch_samples": mismatches[:3],
        "chroma_farther": score.farther, "unexplained": score.unexplained}
    if source_exact is not None:
        exact = [[i for i in r if i not in differ][:10] for r in source_exact]
        observed["chroma_recall_vs_source_exact"] = round(_overlap(exact, [[i for i, _ in r] for r in chroma]), 4)
        observed["overlap_with_source_exact"] = round(_overlap(exact, found), 4)
    # below the threshold, every miss must be Chroma's own approximation: a neighbour farther than the table's
    # exact 10th (its distance agreeing with the table's vector), never one nearer that the table lacks
    passed = not mismatches and (overlap >= min_overlap or score.unexplained == 0)
    return ExpectationOutcome("top10_overlap", passed, observed, "vectorops.parity")


@dataclass(frozen=True)
class ChromaScore:
    """How Chroma's top 10 compare with the table's exact top 10.

    :param overlap: the share of Chroma's neighbours in the table's top 10 (or tied with its 10th).
    :param compared: Chroma's distances compared with the table's vectors.
    :param mismatches: those that disagree (``id``, Chroma's, the table's).
    :param farther: Chroma's neighbours outside the table's 10, farther than its 10th: Chroma's approximation.
    :param unexplained: Chroma's neighbours outside the table's 10 and nearer than its 10th, or not in the table.
    """

    overlap: float
    compared: int
    mismatches: list[dict[str, Any]]
    farther: int
    unexplained: int


def score_against_chroma(space: str, queries: np.ndarray, chroma: list[list[tuple[str, float]]],
                         found: list[list[str]], vectors: dict[str, np.ndarray]) -> ChromaScore:
    """Score Chroma's answers (ids and distances, per query) against the table's exact top 10 per query.

    :param space: the table's space.
    :param queries: the query vectors.
    :param chroma: Chroma's first 10 neighbours per query, with the distances it reported.
    :param found: the table's exact top 10 per query.
    :param vectors: the table's vectors of every id in either.
    """
    hits = total = compared = farther = unexplained = 0
    mismatches: list[dict[str, Any]] = []
    for query, answer, ours in zip(queries, chroma, found, strict=True):
        total += min(10, len(answer))
        ours_set = set(ours)
        tenth = float(chroma_distance(space, query, vectors[ours[-1]])[0]) if ours and ours[-1] in vectors else None
        for record_id, reported in answer:
            if record_id not in vectors:
                unexplained += 1
                continue
            computed = float(chroma_distance(space, query, vectors[record_id])[0])
            compared += 1
            if not _agrees(computed, reported):
                mismatches.append({"id": record_id, "chroma": round(reported, 6), "table": round(computed, 6)})
            if record_id in ours_set or (tenth is not None and computed <= tenth and _agrees(computed, tenth)):
                hits += 1
            elif tenth is not None and computed > tenth:
                farther += 1
            else:
                unexplained += 1
    return ChromaScore(hits / total if total else 1.0, compared, mismatches, farther, unexplained)


def _stored_ids(conn: psycopg.Connection, schema: str, table: str, ids: Collection[str]) -> set[str]:
    """Which of ``ids`` the table holds (ids PostgreSQL text cannot hold are never there)."""
    storable = [i for i in ids if printable_id(i) == i]
    return {r[0] for r in conn.execute(sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(
        sql.Identifier(schema, table)), (storable,))}
