"""Parity of a loaded table with its Chroma source: checksums, a seeded sample, and top-10 overlap.

The checksum pass merges two streams sorted by id bytes, the table's (``ORDER BY id COLLATE "C"``) and the
source's (the staged ids, fetched from Chroma in batches), so memory stays flat and every differing row is
counted by field. Re-embedded vectors cannot match the source's, so both sides hash a marker for them and
the vectors are compared with the target model's embedding of the same documents instead.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops import chroma_source, embedding, reembed
from vectorops.chroma_source import SourceSpec
from vectorops.exact_search import ExactTopK, exact_top_k
from vectorops.quality_suites import ExpectationOutcome
from vectorops.records import printable_id

REEMBEDDED = b"\x00re-embedded"
MIN_TOP10_OVERLAP = 0.99
MIN_MODEL_COSINE = 0.999
TABLE_PAGE = 5000
MAX_EXCLUDED = 1000  # beyond this many differing records, Chroma's top-10 may hold fewer than 10 comparable ids
FIELDS = ("embedding", "document", "metadata", "uri")


@dataclass(frozen=True)
class Row:
    """One record in the canonical form both sides are hashed in."""

    id: str
    vector: bytes  # big-endian float32, or REEMBEDDED
    document: str | None
    metadata: str | None  # canonical JSON
    uri: str | None


def canonical_metadata(metadata: Mapping[str, Any] | None) -> str | None:
    """Metadata as canonical JSON (sorted keys); types survive, so ``1``, ``1.0`` and ``true`` differ."""
    if metadata is None:
        return None
    return json.dumps(metadata, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _field(value: str | bytes | None) -> bytes:
    if value is None:
        return b"\xff"
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return struct.pack(">Q", len(raw)) + raw


def row_bytes(row: Row) -> bytes:
    """The bytes of ``row`` that go into a checksum (length-prefixed, so fields cannot run together)."""
    return b"".join((_field(row.id), _field(row.vector), _field(row.document), _field(row.metadata),
                     _field(row.uri)))


def iter_table_rows(conn: psycopg.Connection, schema: str, table: str) -> Iterator[Row]:
    """Every row of the table in id byte order, streamed through a server-side cursor."""
    query = sql.SQL("""SELECT id, substr(vector_send(embedding), 5), document, metadata, uri FROM {}
                       ORDER BY id COLLATE "C" """).format(sql.Identifier(schema, table))
    with conn.transaction(), conn.cursor(name="vectorops_parity") as cur:
        cur.itersize = TABLE_PAGE
        cur.execute(query)
        for record_id, vector, document, metadata, uri in cur:
            yield Row(record_id, bytes(vector) if vector is not None else b"", document,
                      canonical_metadata(metadata), uri)


def table_checksum(conn: psycopg.Connection, schema: str, table: str) -> tuple[str, int]:
    """sha256 over the sorted rows of a table (its vectors included) and the row count."""
    digest = hashlib.sha256()
    rows = 0
    for row in iter_table_rows(conn, schema, table):
        digest.update(row_bytes(row))
        rows += 1
    return digest.hexdigest(), rows


@dataclass
class _Merge:
    source: Any = field(default_factory=hashlib.sha256)
    table: Any = field(default_factory=hashlib.sha256)
    compared: int = 0
    quarantined: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    differing: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FIELDS})
    metadata_lost: int = 0
    reembedded: list[tuple[str, str, bytes]] = field(default_factory=list)  # id, document, stored vector
    reembedded_ids: list[str] = field(default_factory=list)
    quarantined_ids: list[str] = field(default_factory=list)  # as the source spells them


def _source_rows(conn: psycopg.Connection, spec: SourceSpec, collection: str, attempt_id: str, plan: Any,
                 space: str, fetch_batch: int) -> Iterator[tuple[Row, bool]]:
    """Source records in id byte order, with whether the table's vector is a re-embedding."""
    last = b""
    while True:
        page = [bytes(r[0]) for r in conn.execute(
            """SELECT id FROM vectorops.migration_source_ids WHERE attempt_id = %s AND id > %s
               ORDER BY id LIMIT %s""", (attempt_id, last, fetch_batch))]
        if not page:
            return
        last = page[-1]
        batch = chroma_source.fetch(spec, collection, [raw.decode("utf-8", "surrogatepass") for raw in page])
        matrix, unusable = reembed.source_vectors(batch.embeddings, len(batch.ids), plan, space)
        big_endian = matrix.astype(">f4")
        for i, record_id in enumerate(batch.ids):
            document = batch.documents[i]
            new_vector = document is not None and (plan.mode == reembed.COLLECTION or (
                plan.mode == reembed.RECORDS and unusable[i]))
            vector = REEMBEDDED if new_vector else big_endian[i].tobytes()
            meta = batch.metadatas[i]
            yield Row(record_id, vector, document, canonical_metadata(meta) if meta is not None else None,
                      batch.uris[i]), new_vector


def checksum_parity(conn: psycopg.Connection, *, spec: SourceSpec, collection: str, attempt_id: str, schema: str,
                    table: str, plan: Any, space: str, fetch_batch: int, source_top_k: ExactTopK | None = None
                    ) -> tuple[list[ExpectationOutcome], str, set[str]]:
    """Compare every row of the table with the source, by checksum and field by field.

    :param source_top_k: when given, every source record that should be in the table with its source vector
        is offered to it, so the source's exact top-k comes out of the same pass.

    :return: the outcomes, the sha256 of the table as it is (the baseline later checks compare to), and the
        ids whose table vector differs from the source's on purpose (quarantined or re-embedded).
    """
    with conn.cursor() as cur:
        quarantined = {r[0] for r in cur.execute(
            "SELECT record_id FROM vectorops.quarantine WHERE attempt_id = %s", (attempt_id,))}
    merge = _Merge()
    baseline = hashlib.sha256()
    candidates = _Candidates(source_top_k)
    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as reader:
        table_rows = iter_table_rows(reader, schema, table)
        current = next(table_rows, None)
        for source_row, new_vector in _source_rows(conn, spec, collection, attempt_id, plan, space, fetch_batch):
            source_key = source_row.id.encode("utf-8", "surrogatepass")
            while current is not None and current.id.encode("utf-8") < source_key:
                _take_extra(merge, baseline, current)
                current = next(table_rows, None)
            if current is None or current.id != source_row.id:
                if printable_id(source_row.id) in quarantined:
                    merge.quarantined += 1
                    merge.quarantined_ids.append(source_row.id)
                else:
                    merge.source.update(row_bytes(source_row))
                    merge.missing.append(source_row.id)
                    candidates.offer(source_row, new_vector)
                continue
            baseline.update(row_bytes(current))
            _compare(merge, source_row, current, new_vector)
            candidates.offer(source_row, new_vector)
            current = next(table_rows, None)
        while current is not None:
            _take_extra(merge, baseline, current)
            current = next(table_rows, None)
    candidates.flush()
    source_sha, table_sha = merge.source.hexdigest(), merge.table.hexdigest()
    differing = {name: len(ids) for name, ids in merge.differing.items()}
    observed = {"source_sha256": source_sha, "table_sha256": table_sha, "compared": merge.compared,
                "quarantined": merge.quarantined, "missing": len(merge.missing), "extra": len(merge.extra),
                "differing": differing,
                "samples": {"missing": merge.missing[:5], "extra": merge.extra[:5],
                            **{name: ids[:5] for name, ids in merge.differing.items() if ids}}}
    outcomes = [
        ExpectationOutcome("checksum_matches_source", source_sha == table_sha and not merge.missing
                           and not merge.extra, observed, "vectorops.parity"),
        ExpectationOutcome("metadata_present_where_source_had_it", merge.metadata_lost == 0,
                           {"rows_missing_metadata": merge.metadata_lost}, "vectorops.parity"),
    ]
    if merge.reembedded:
        outcomes.append(_model_agreement("reembedded_vectors_match_model", merge.reembedded, plan.model))
    return outcomes, baseline.hexdigest(), set(merge.quarantined_ids) | set(merge.reembedded_ids)


class _Candidates:
    """Buffers source vectors for an :class:`ExactTopK`, so distances are computed a few thousand at a time."""

    def __init__(self, top_k: ExactTopK | None, size: int = 4096) -> None:
        self.top_k, self.size = top_k, size
        self.ids: list[str] = []
        self.vectors: list[bytes] = []

    def offer(self, row: Row, new_vector: bool) -> None:
        if self.top_k is None or new_vector or not row.vector:
            return
        self.ids.append(row.id)
        self.vectors.append(row.vector)
        if len(self.ids) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.top_k is None or not self.ids:
            return
        matrix = np.frombuffer(b"".join(self.vectors), dtype=">f4").reshape(len(self.ids), -1)
        self.top_k.add(self.ids, matrix.astype(np.float32))
        self.ids, self.vectors = [], []


def _take_extra(merge: _Merge, baseline: Any, row: Row) -> None:
    baseline.update(row_bytes(row))
    merge.table.update(row_bytes(row))
    merge.extra.append(row.id)


def _compare(merge: _Merge, source: Row, stored: Row, new_vector: bool) -> None:
    merge.compared += 1
    as_hashed = Row(stored.id, REEMBEDDED if new_vector else stored.vector, stored.document, stored.metadata,
                    stored.uri)
    merge.source.update(row_bytes(source))
    merge.table.update(row_bytes(as_hashed))
    if new_vector:
        merge.reembedded_ids.append(stored.id)
        if len(merge.reembedded) < 2000:  # the model check is a sample; the checksum covers the other fields
            merge.reembedded.append((stored.id, str(source.document), stored.vector))
    elif source.vector != stored.vector:
        merge.differing["embedding"].append(source.id)
    if source.document != stored.document:
        merge.differing["document"].append(source.id)
    if source.metadata != stored.metadata:
        merge.differing["metadata"].append(source.id)
        if stored.metadata is None:
            merge.metadata_lost += 1
    if source.uri != stored.uri:
        merge.differing["uri"].append(source.id)


def _model_agreement(name: str, rows: list[tuple[str, str, bytes]], model: str | None) -> ExpectationOutcome:
    """Stored vectors against a fresh embedding of the same documents by the target model."""
    stored = np.vstack([np.frombuffer(vector, dtype=">f4").astype(np.float32) for _, _, vector in rows])
    fresh = embedding.encode([document for _, document, _ in rows], model)
    cosine = np.einsum("ij,ij->i", stored, fresh) / (
        np.linalg.norm(stored, axis=1) * np.linalg.norm(fresh, axis=1) + 1e-12)
    worst = int(np.argmin(cosine))
    below = [rows[i][0] for i in np.flatnonzero(cosine < MIN_MODEL_COSINE)]
    return ExpectationOutcome(name, not below, {
        "checked": len(rows), "min_cosine": round(float(cosine[worst]), 6), "worst_id": rows[worst][0],
        "below_threshold": len(below), "threshold": MIN_MODEL_COSINE, "samples": below[:5]}, "vectorops.parity")


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


def sample_equality(conn: psycopg.Connection, *, spec: SourceSpec, collection: str, schema: str, table: str,
                    plan: Any, space: str, ids: list[str], seed: int) -> list[ExpectationOutcome]:
    """Exact equality with the source for a seeded sample of ids (re-embedded vectors: against the model)."""
    if not ids:
        return []
    stored = {r[0]: r[1:] for r in conn.execute(sql.SQL(
        """SELECT id, substr(vector_send(embedding), 5), document, metadata, uri FROM {}
           WHERE id = ANY(%s)""").format(sql.Identifier(schema, table)), (ids,))}
    batch = chroma_source.fetch(spec, collection, ids)
    matrix, unusable = reembed.source_vectors(batch.embeddings, len(batch.ids), plan, space)
    unequal: list[str] = []
    model_rows: list[tuple[str, str, bytes]] = []
    for i, record_id in enumerate(ids):
        vector, document, metadata, uri = stored[record_id]
        if batch.documents[i] is not None and (plan.mode == reembed.COLLECTION or (
                plan.mode == reembed.RECORDS and unusable[i])):
            model_rows.append((record_id, batch.documents[i], bytes(vector)))
            vector_equal = True
        else:
            vector_equal = vector is not None and matrix[i].astype(">f4").tobytes() == bytes(vector)
        same = (vector_equal and document == batch.documents[i] and uri == batch.uris[i]
                and canonical_metadata(metadata) == canonical_metadata(batch.metadatas[i]))
        if not same:
            unequal.append(record_id)
    outcomes = [ExpectationOutcome("sample_exact_equality", not unequal, {
        "seed": seed, "sampled": len(ids), "unequal": len(unequal), "samples": unequal[:5]}, "vectorops.parity")]
    if model_rows:
        outcomes.append(_model_agreement("sample_matches_model_embedding", model_rows, plan.model))
    return outcomes


def _overlap(expected: list[list[str]], found: list[list[str]]) -> float:
    hits = sum(len(set(e) & set(f)) for e, f in zip(expected, found, strict=True))
    total = sum(min(10, len(e)) for e in expected)
    return hits / total if total else 1.0


def top10_overlap(conn: psycopg.Connection, *, spec: SourceSpec, collection: str, schema: str, table: str,
                  plan: Any, space: str, query_ids: list[str], queries: np.ndarray,
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
    in_table = _stored_ids(conn, schema, table, differ)
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
    extra = min(len(differ), MAX_EXCLUDED)
    result = chroma_source.get_collection(spec, collection).query(query_embeddings=queries, n_results=10 + extra,
                                                                  include=[])
    chroma = [[i for i in r if i not in differ][:10] for r in result["ids"]]
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
