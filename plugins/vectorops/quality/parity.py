"""Parity of a loaded table with its Chroma source, row by row: two checksums and a field-by-field diff.

The pass merges two streams sorted by id bytes, the table's (``ORDER BY id COLLATE "C"``) and the
source's (the staged ids, fetched from Chroma in batches), so memory stays flat and every differing row is
counted by field. Re-embedded vectors cannot match the source's, so both sides hash a marker for them and
the vectors are compared with the target model's embedding of the same documents instead.

The source is compared as it is now, while it may still be written. A staged id it no longer holds passes as
deleted after the read point, and a row that differs passes only when its source record was written after the
read point (its Chroma sequence number is above it); both are counted. A source without sequence numbers (a
server) cannot show when a record was written, so a row that differs there fails as always.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import psycopg
from psycopg import sql

from vectorops.chroma.files import changes
from vectorops.chroma.source import RecordBatch
from vectorops.chroma.staged import fetch_staged, settled_files
from vectorops.embedding import model as embedding_model
from vectorops.embedding import policy
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.errors import UnstorableValue
from vectorops.migration import ledger
from vectorops.migration.plan import CollectionPlan
from vectorops.quality import merge
from vectorops.quality.canonical import REEMBEDDED, Row, canonical_metadata, row_bytes
from vectorops.quality.exact_search import ExactTopK
from vectorops.quality.suites import ExpectationOutcome
from vectorops.records import checked_fields, printable_id

MIN_MODEL_COSINE = 0.999
TABLE_PAGE = 5000


def iter_table_rows(conn: psycopg.Connection, schema: str, table: str) -> Iterator[Row]:
    """Every row of the table in id byte order, streamed through a server-side cursor."""
    query = sql.SQL("""SELECT id, substr(vector_send(embedding), 5), document, metadata, uri FROM {}
                       ORDER BY id COLLATE "C" """).format(sql.Identifier(schema, table))
    # binary: the vectors come as their bytes, not hex the server encodes and this process decodes (1.5 KB a row)
    with conn.transaction(), conn.cursor(name="vectorops_parity", binary=True) as cur:
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


class _SourceRow(NamedTuple):
    row: Row
    new_vector: bool  # the table's vector is a re-embedding
    vector_ok: bool  # the policy can use its vector (or gives it a new one)
    metadata: Any  # as the source holds it: what the loader checked
    written_after: bool  # its last write came after the read point

    @property
    def storable(self) -> bool:
        """Whether the loader had no reason to quarantine it; checked only for a row the table lacks, since a
        row the table holds was storable."""
        if not self.vector_ok:
            return False
        try:
            checked_fields(self.row.id, self.row.document, self.row.uri, self.metadata)
        except UnstorableValue:
            return False
        return True


@dataclass(frozen=True)
class Drift:
    """What the source changed after the read point, as the parity pass met it.

    :param gone: staged ids the source no longer holds.
    :param written_after: rows that differ because their source record was written after the read point.
    """

    gone: int
    written_after: int


def _source_rows(conn: psycopg.Connection, plan: CollectionPlan, fetch_batch: int, gone: set[str]
                 ) -> Iterator[_SourceRow]:
    """Source records in id byte order, with what the loader should have done with each; the staged ids the
    source no longer holds are added to ``gone`` before any row after them is yielded."""
    spec, collection, space, embedding = plan.source, plan.collection, plan.info.space, plan.embedding
    point = ledger.read_point_of(conn, plan.attempt_id)
    pages = ledger.staged_id_pages(conn, plan.attempt_id, fetch_batch)
    files = None
    for found in fetch_staged(spec, collection, space, point.stamp, pages):
        batch = found.records
        gone.update(found.gone)
        seqs: dict[str, int] = {}
        if found.current and point.read_point is not None and batch.ids:
            files = files or settled_files(spec, collection, space, point.stamp)
            seqs = changes.seqs_of(files, batch.ids) if files is not None else {}
        yield from _rows(batch, embedding, space, seqs, point.read_point)


def _rows(batch: RecordBatch, plan: EmbeddingPlan, space: str, seqs: dict[str, int], read_point: int | None
          ) -> Iterator[_SourceRow]:
    """The source rows of ``batch``; ``seqs`` holds the sequence numbers of records read as they are now."""
    matrix, unusable = policy.source_vectors(batch.embeddings, len(batch.ids), plan, space)
    fits = matrix.shape[1] == plan.dimensions
    big_endian = matrix.astype(">f4")
    for i, record_id in enumerate(batch.ids):
        document, meta, uri = batch.documents[i], batch.metadatas[i], batch.uris[i]
        new_vector = policy.gets_new_vector(plan, document, unusable[i])
        vector_ok = new_vector or (not unusable[i] and fits)
        vector = REEMBEDDED if new_vector else big_endian[i].tobytes()
        written_after = read_point is not None and seqs.get(record_id, 0) > read_point
        yield _SourceRow(Row(record_id, vector, document, canonical_metadata(meta), uri), new_vector, vector_ok,
                         meta, written_after)


def _merge_pass(conn: psycopg.Connection, schema: str, table: str, sources: Iterator[_SourceRow],
                quarantined: set[str], embedding: EmbeddingPlan, gone: set[str], candidates: merge.Candidates,
                table_top_k: ExactTopK | None = None) -> tuple[merge.Merge, Any]:
    """Merge the table's rows with ``sources`` (both in id byte order): the diff, and the table's running sha256.

    ``table_top_k``, when given, is offered every table row with a vector as it is read.
    """
    table_candidates = merge.Candidates(table_top_k) if table_top_k is not None else None
    result = merge.Merge()
    baseline = hashlib.sha256()

    def table_only(row: Row) -> None:
        if row.id in gone:  # loaded, then deleted from the source: the next sync deletes it
            baseline.update(row_bytes(row))
        else:
            merge.take_extra(result, baseline, row)

    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as reader:
        table_rows = iter_table_rows(reader, schema, table)
        if table_candidates is not None:
            table_rows = _offered(table_rows, table_candidates)
        current = next(table_rows, None)
        for source in sources:
            source_row = source.row
            source_key = source_row.id.encode("utf-8", "surrogatepass")
            while current is not None and current.id.encode("utf-8") < source_key:
                table_only(current)
                current = next(table_rows, None)
            if current is None or current.id != source_row.id:
                if printable_id(source_row.id) in quarantined:
                    result.quarantined += 1
                    result.quarantined_ids.append(source_row.id)
                    if source.storable:
                        result.wrongly_quarantined.add(source_row.id)
                elif source.written_after:  # deleted before its chunk loaded, written again since
                    result.written_after.add(source_row.id)
                    result.written_after_ids.append(source_row.id)
                else:
                    result.source.update(row_bytes(source_row))
                    result.missing.add(source_row.id)
                    candidates.offer(source_row, source.new_vector)
                continue
            table_bytes = row_bytes(current)
            baseline.update(table_bytes)
            if source.written_after and row_bytes(source_row) != (
                    row_bytes(merge.as_hashed(current, True)) if source.new_vector else table_bytes):
                result.written_after.add(source_row.id)  # the next sync loads what was written after
                result.written_after_ids.append(source_row.id)
            else:
                merge.compare(result, source_row, current, source.new_vector, embedding, table_bytes)
                candidates.offer(source_row, source.new_vector)
            current = next(table_rows, None)
        while current is not None:
            table_only(current)
            current = next(table_rows, None)
    if table_candidates is not None:
        table_candidates.flush()
    return result, baseline


def _offered(rows: Iterator[Row], candidates: merge.Candidates) -> Iterator[Row]:
    """``rows``, each offered to ``candidates`` as it passes."""
    for row in rows:
        candidates.offer(row, False)
        yield row


def compare_with_records(conn: psycopg.Connection, schema: str, table: str, batches: Iterable[RecordBatch],
                         quarantined: set[str], plan: EmbeddingPlan, space: str
                         ) -> tuple[list[ExpectationOutcome], str, int]:
    """Compare every row of a live table with ``batches``, its source's records in id byte order, exactly: the
    gate's checksums and field-by-field diff, with no allowance for writes after a read point.

    :param conn: a connection to the table's database.
    :param schema: the table's schema.
    :param table: the table.
    :param batches: the source's records, sorted by id bytes.
    :param quarantined: ids (as quarantined) the table leaves out on purpose.
    :param plan: how the table's vectors were made (re-embedded ones are compared with the model).
    :param space: the distance space.
    :return: the outcomes, the table's sha256 (the baseline later checks compare to), and its rows compared.
    """
    sources = (row for batch in batches for row in _rows(batch, plan, space, {}, None))
    candidates = merge.Candidates(None)
    result, baseline = _merge_pass(conn, schema, table, sources, quarantined, plan, set(), candidates)
    return _outcomes(result, plan), baseline.hexdigest(), result.compared


def checksum_parity(conn: psycopg.Connection, plan: CollectionPlan, *, fetch_batch: int,
                    source_top_k: ExactTopK | None = None, table_top_k: ExactTopK | None = None
                    ) -> tuple[list[ExpectationOutcome], str, set[str], Drift]:
    """Compare every row of the table with the source, by checksum and field by field.

    A source record missing from the table passes only when the loader quarantined it and this pass finds a
    reason too (text PostgreSQL cannot hold, or a vector the policy cannot use). A staged id the source no
    longer holds, and a row whose source record was written after the read point, pass and are counted.

    :param conn: a connection to the database of the plan's shadow table and its ledger.
    :param plan: the collection's plan; its shadow table is compared with its source.
    :param fetch_batch: records per fetch from the source.
    :param source_top_k: when given, every source record that should be in the table with its source vector
        is offered to it, so the source's exact top-k comes out of the same pass.
    :param table_top_k: when given, every table row with a vector is offered to it, so the table's exact top-k
        comes out of the same read of the table (no search of its own on the server).
    :return: the outcomes, the sha256 of the table as it is (the baseline later checks compare to), the ids whose
        table row differs from the source's on purpose (quarantined, re-embedded one by one, or changed in the
        source after the read point), and what the source changed after the read point.
    """
    attempt_id = plan.attempt_id
    schema, table, embedding = plan.schema, plan.shadow, plan.embedding
    quarantined = set(ledger.quarantined_ids(conn, attempt_id))
    candidates = merge.Candidates(source_top_k)
    gone: set[str] = set()
    result, baseline = _merge_pass(conn, schema, table, _source_rows(conn, plan, fetch_batch, gone), quarantined,
                                   embedding, gone, candidates, table_top_k)
    candidates.flush()
    for record_id in sorted(gone):
        result.gone.add(record_id)
    # ``quarantined`` also holds the ids no key could hold, which were never staged
    # (:mod:`vectorops.load.unkeyable_ids`); rows the source changed after the read point differ too
    differ = set(result.quarantined_ids) | set(result.reembedded_ids) | quarantined | gone | set(
        result.written_after_ids)
    return (_outcomes(result, embedding), baseline.hexdigest(), differ,
            Drift(result.gone.count, result.written_after.count))


def _outcomes(result: merge.Merge, plan: EmbeddingPlan) -> list[ExpectationOutcome]:
    source_sha, table_sha = result.source.hexdigest(), result.table.hexdigest()
    observed = {"source_sha256": source_sha, "table_sha256": table_sha, "compared": result.compared,
                "quarantined": result.quarantined, "missing": result.missing.count, "extra": result.extra.count,
                "deleted_after_read_point": result.gone.count, "written_after_read_point": result.written_after.count,
                "differing": {name: tally.count for name, tally in result.differing.items()},
                "samples": {"missing": result.missing.samples, "extra": result.extra.samples,
                            **{name: t.samples for name, t in result.differing.items() if t.count}}}
    outcomes = [
        ExpectationOutcome("checksum_matches_source", source_sha == table_sha and not result.missing.count
                           and not result.extra.count and not result.no_vector.count, observed, "vectorops.parity"),
        ExpectationOutcome("metadata_present_where_source_had_it", result.metadata_lost == 0,
                           {"rows_missing_metadata": result.metadata_lost}, "vectorops.parity"),
        ExpectationOutcome("quarantine_justified", result.wrongly_quarantined.count == 0, {
            "quarantined": result.quarantined, "storable_but_quarantined": result.wrongly_quarantined.count,
            "samples": result.wrongly_quarantined.samples}, "vectorops.parity"),
    ]
    if result.no_vector.count:
        outcomes.append(ExpectationOutcome("reembedded_rows_have_vectors", False, {
            "rows_without_vector": result.no_vector.count, "samples": result.no_vector.samples}, "vectorops.parity"))
    if result.model_sample:
        outcome = model_agreement("reembedded_vectors_match_model", result.model_sample, plan.model)
        outcome.observed["reembedded_rows"] = result.reembedded_seen
        outcomes.append(outcome)
    return outcomes
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
