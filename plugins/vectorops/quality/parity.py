"""Parity of a loaded table with its Chroma source, row by row: two checksums and a field-by-field diff.

The pass merges two streams sorted by id bytes, the table's (``ORDER BY id COLLATE "C"``) and the
source's (the staged ids, fetched from Chroma in batches), so memory stays flat and every differing row is
counted by field. Re-embedded vectors cannot match the source's, so both sides hash a marker for them and
the vectors are compared with the target model's embedding of the same documents instead.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops.chroma import fetch
from vectorops.chroma.source import SourceSpec
from vectorops.embedding import model as embedding_model
from vectorops.embedding import policy
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.errors import UnstorableValue
from vectorops.load import sink
from vectorops.quality.exact_search import ExactTopK
from vectorops.quality.suites import ExpectationOutcome
from vectorops.records import checked_fields, printable_id

REEMBEDDED = b"\x00re-embedded"
MIN_MODEL_COSINE = 0.999
MODEL_CHECKS = 2000  # re-embedded rows checked against the model, a seeded sample over the whole collection
TABLE_PAGE = 5000
FIELDS = ("embedding", "document", "metadata", "uri")
SAMPLES = 5


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
    """A field as length-prefixed bytes; NULL is a byte no length prefix starts with."""
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
                      canonical_metadata(metadata), uri)  # b"" is a NULL embedding


def table_checksum(conn: psycopg.Connection, schema: str, table: str) -> tuple[str, int]:
    """sha256 over the sorted rows of a table (its vectors included) and the row count."""
    digest = hashlib.sha256()
    rows = 0
    for row in iter_table_rows(conn, schema, table):
        digest.update(row_bytes(row))
        rows += 1
    return digest.hexdigest(), rows


class _Tally:
    """A count and the first few ids it counted."""

    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []

    def add(self, record_id: str) -> None:
        self.count += 1
        if len(self.samples) < SAMPLES:
            self.samples.append(record_id)


@dataclass
class _Merge:
    """What the merge of the two sorted streams found."""

    source: Any = field(default_factory=hashlib.sha256)
    table: Any = field(default_factory=hashlib.sha256)
    compared: int = 0
    quarantined: int = 0
    missing: _Tally = field(default_factory=_Tally)
    extra: _Tally = field(default_factory=_Tally)
    wrongly_quarantined: _Tally = field(default_factory=_Tally)
    no_vector: _Tally = field(default_factory=_Tally)
    differing: dict[str, _Tally] = field(default_factory=lambda: {f: _Tally() for f in FIELDS})
    metadata_lost: int = 0
    reembedded_seen: int = 0
    model_sample: list[tuple[str, str, bytes]] = field(default_factory=list)  # id, document, stored vector
    reembedded_ids: list[str] = field(default_factory=list)  # records mode only: few, and top-10 needs them
    quarantined_ids: list[str] = field(default_factory=list)  # as the source spells them
    rng: random.Random = field(default_factory=lambda: random.Random(0))


@dataclass(frozen=True)
class _SourceRow:
    row: Row
    new_vector: bool  # the table's vector is a re-embedding
    storable: bool  # the loader had no reason to quarantine it


def _staged_id_pages(conn: psycopg.Connection, attempt_id: str, size: int
                     ) -> Iterator[tuple[list[str], list[int | None]]]:
    """The attempt's staged ids in byte order with their positions in the files, ``size`` at a time."""
    last = b""
    while True:
        page = conn.execute(
            """SELECT id, source_position FROM vectorops.migration_source_ids WHERE attempt_id = %s AND id > %s
               ORDER BY id LIMIT %s""", (attempt_id, last, size)).fetchall()
        if not page:
            return
        last = bytes(page[-1][0])
        yield [bytes(r[0]).decode("utf-8", "surrogatepass") for r in page], [r[1] for r in page]


def _source_rows(conn: psycopg.Connection, spec: SourceSpec, collection: str, attempt_id: str, plan: EmbeddingPlan,
                 space: str, fetch_batch: int) -> Iterator[_SourceRow]:
    """Source records in id byte order, with what the loader should have done with each."""
    stamp = sink.source_stamp(conn, attempt_id)
    pages = _staged_id_pages(conn, attempt_id, fetch_batch)
    for batch in fetch.fetch_staged(spec, collection, space, stamp, pages):
        matrix, unusable = policy.source_vectors(batch.embeddings, len(batch.ids), plan, space)
        fits = matrix.shape[1] == plan.dimensions
        big_endian = matrix.astype(">f4")
        for i, record_id in enumerate(batch.ids):
            document, meta, uri = batch.documents[i], batch.metadatas[i], batch.uris[i]
            new_vector = policy.gets_new_vector(plan, document, unusable[i])
            vector_ok = new_vector or (not unusable[i] and fits)
            try:
                checked_fields(record_id, document, uri, meta)
                text_ok = True
            except UnstorableValue:
                text_ok = False
            vector = REEMBEDDED if new_vector else big_endian[i].tobytes()
            yield _SourceRow(Row(record_id, vector, document, canonical_metadata(meta) if meta is not None else None,
                                 uri), new_vector, vector_ok and text_ok)


def checksum_parity(conn: psycopg.Connection, *, spec: SourceSpec, collection: str, attempt_id: str, schema: str,
                    table: str, plan: EmbeddingPlan, space: str, fetch_batch: int,
                    source_top_k: ExactTopK | None = None) -> tuple[list[ExpectationOutcome], str, set[str]]:
    """Compare every row of the table with the source, by checksum and field by field.

    A source record missing from the table passes only when the loader quarantined it and this pass finds a
    reason too (text PostgreSQL cannot hold, or a vector the policy cannot use).

    :param source_top_k: when given, every source record that should be in the table with its source vector
        is offered to it, so the source's exact top-k comes out of the same pass.
    :return: the outcomes, the sha256 of the table as it is (the baseline later checks compare to), and the
        ids whose table vector differs from the source's on purpose (quarantined, or re-embedded one by one).
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
        for source in _source_rows(conn, spec, collection, attempt_id, plan, space, fetch_batch):
            source_row = source.row
            source_key = source_row.id.encode("utf-8", "surrogatepass")
            while current is not None and current.id.encode("utf-8") < source_key:
                _take_extra(merge, baseline, current)
                current = next(table_rows, None)
            if current is None or current.id != source_row.id:
                if printable_id(source_row.id) in quarantined:
                    merge.quarantined += 1
                    merge.quarantined_ids.append(source_row.id)
                    if source.storable:
                        merge.wrongly_quarantined.add(source_row.id)
                else:
                    merge.source.update(row_bytes(source_row))
                    merge.missing.add(source_row.id)
                    candidates.offer(source_row, source.new_vector)
                continue
            baseline.update(row_bytes(current))
            _compare(merge, source_row, current, source.new_vector, plan)
            candidates.offer(source_row, source.new_vector)
            current = next(table_rows, None)
        while current is not None:
            _take_extra(merge, baseline, current)
            current = next(table_rows, None)
    candidates.flush()
    # ``quarantined`` also holds the ids no key could hold, which were never staged
    # (:mod:`vectorops.load.unkeyable_ids`)
    return _outcomes(merge, plan), baseline.hexdigest(), set(merge.quarantined_ids) | set(merge.reembedded_ids) | (
        quarantined)


def _outcomes(merge: _Merge, plan: EmbeddingPlan) -> list[ExpectationOutcome]:
    source_sha, table_sha = merge.source.hexdigest(), merge.table.hexdigest()
    observed = {"source_sha256": source_sha, "table_sha256": table_sha, "compared": merge.compared,
                "quarantined": merge.quarantined, "missing": merge.missing.count, "extra": merge.extra.count,
                "differing": {name: tally.count for name, tally in merge.differing.items()},
                "samples": {"missing": merge.missing.samples, "extra": merge.extra.samples,
                            **{name: t.samples for name, t in merge.differing.items() if t.count}}}
    outcomes = [
        ExpectationOutcome("checksum_matches_source", source_sha == table_sha and not merge.missing.count
                           and not merge.extra.count and not merge.no_vector.count, observed, "vectorops.parity"),
        ExpectationOutcome("metadata_present_where_source_had_it", merge.metadata_lost == 0,
                           {"rows_missing_metadata": merge.metadata_lost}, "vectorops.parity"),
        ExpectationOutcome("quarantine_justified", merge.wrongly_quarantined.count == 0, {
            "quarantined": merge.quarantined, "storable_but_quarantined": merge.wrongly_quarantined.count,
            "samples": merge.wrongly_quarantined.samples}, "vectorops.parity"),
    ]
    if merge.no_vector.count:
        outcomes.append(ExpectationOutcome("reembedded_rows_have_vectors", False, {
            "rows_without_vector": merge.no_vector.count, "samples": merge.no_vector.samples}, "vectorops.parity"))
    if merge.model_sample:
        outcome = model_agreement("reembedded_vectors_match_model", merge.model_sample, plan.model)
        outcome.observed["reembedded_rows"] = merge.reembedded_seen
        outcomes.append(outcome)
    return outcomes
class _Candidates:
    """Buffers source vectors for an :class:`ExactTopK`, so distances are computed a few thousand at a time."""

    def __init__(self, top_k: ExactTopK | None, size: int = 4096) -> None:
        self.top_k, self.size = top_k, size
        self.ids: list[str] = []
        self.vectors: list[bytes] = []

    def offer(self, row: Row, new_vector: bool) -> None:
        """Buffer ``row``'s source vector unless the table holds another vector for it."""
        if self.top_k is None or new_vector or not row.vector:
            return
        self.ids.append(row.id)
        self.vectors.append(row.vector)
        if len(self.ids) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered vectors to the top-k."""
        if self.top_k is None or not self.ids:
            return
        matrix = np.frombuffer(b"".join(self.vectors), dtype=">f4").reshape(len(self.ids), -1)
        self.top_k.add(self.ids, matrix.astype(np.float32))
        self.ids, self.vectors = [], []


def _take_extra(merge: _Merge, baseline: Any, row: Row) -> None:
    """A table row the source does not have."""
    baseline.update(row_bytes(row))
    merge.table.update(row_bytes(row))
    merge.extra.add(row.id)


def _compare(merge: _Merge, source: Row, stored: Row, new_vector: bool, plan: EmbeddingPlan) -> None:
    """Hash both sides of a matched row and count each field that differs."""
    merge.compared += 1
    as_hashed = Row(stored.id, REEMBEDDED if new_vector else stored.vector, stored.document, stored.metadata,
                    stored.uri)
    merge.source.update(row_bytes(source))
    merge.table.update(row_bytes(as_hashed))
    if new_vector and not stored.vector:
        merge.no_vector.add(stored.id)
    elif new_vector:
        merge.reembedded_seen += 1
        if plan.mode == policy.RECORDS:
            merge.reembedded_ids.append(stored.id)
        # a seeded reservoir sample over the whole collection; the checksum covers the other fields
        entry = (stored.id, str(source.document), stored.vector)
        if len(merge.model_sample) < MODEL_CHECKS:
            merge.model_sample.append(entry)
        else:
            slot = merge.rng.randrange(merge.reembedded_seen)
            if slot < MODEL_CHECKS:
                merge.model_sample[slot] = entry
    elif source.vector != stored.vector:
        merge.differing["embedding"].add(source.id)
    if source.document != stored.document:
        merge.differing["document"].add(source.id)
    if source.metadata != stored.metadata:
        merge.differing["metadata"].add(source.id)
        if stored.metadata is None:
            merge.metadata_lost += 1
    if source.uri != stored.uri:
        merge.differing["uri"].add(source.id)


def model_agreement(name: str, rows: list[tuple[str, str, bytes]], model: str | None) -> ExpectationOutcome:
    """Stored vectors against a fresh embedding of the same documents by the target model."""
    stored = np.vstack([np.frombuffer(vector, dtype=">f4").astype(np.float32) for _, _, vector in rows])
    fresh = embedding_model.encode([document for _, document, _ in rows], model)
    cosine = np.einsum("ij,ij->i", stored, fresh) / (
        np.linalg.norm(stored, axis=1) * np.linalg.norm(fresh, axis=1) + 1e-12)
    worst = int(np.argmin(cosine))
    below = [rows[i][0] for i in np.flatnonzero(cosine < MIN_MODEL_COSINE)]
    return ExpectationOutcome(name, not below, {
        "checked": len(rows), "min_cosine": round(float(cosine[worst]), 6), "worst_id": rows[worst][0],
        "below_threshold": len(below), "threshold": MIN_MODEL_COSINE, "samples": below[:5]}, "vectorops.parity")
