"""A cutover's parity for a collection read through Chroma's API (a server): every source record against every
table row, by the digest of parity's canonical form, with the writers paused.

Servers cannot list records in id order, so both sides' digests go to a temporary table and are joined there.
A table whose vectors are the source's is hashed row by row; a re-embedded one is matched with the source digests
recorded when its rows were applied. The source's ``count()`` before and after the scan must agree with it.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

from vectorops.chroma import fetch
from vectorops.chroma.api_errors import api_errors
from vectorops.chroma.source import SourceSpec, get_collection
from vectorops.db.rows import one_row
from vectorops.db.sql_files import sql_text, statement
from vectorops.embedding import policy
from vectorops.errors import SourceChanged
from vectorops.quality.canonical import row_bytes
from vectorops.quality.parity import iter_table_rows
from vectorops.quality.suites import ExpectationOutcome
from vectorops.sync.changeset import storable_id
from vectorops.sync.server_scan import DIGEST_BYTES, batch_digests
from vectorops.sync.target import SyncTarget


def _count(spec: SourceSpec, target: SyncTarget) -> int:
    with api_errors(spec, target.ref, "count its records"):
        return int(get_collection(spec, target.ref).count())


def _source_side(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, page: int) -> int:
    scanned = 0
    with conn.cursor().copy("COPY pg_temp.vectorops_cutover_digests (side, id, digest) FROM STDIN") as copy:
        for batch in fetch.iter_records(spec, target.ref, target.space, page):
            for record_id, digest in zip(batch.ids, batch_digests(batch), strict=True):
                if storable_id(record_id):
                    copy.write_row(("source", record_id, digest))
            scanned += len(batch.ids)
    return scanned


def _table_side(conn: psycopg.Connection, target: SyncTarget, plan: policy.EmbeddingPlan) -> str:
    """Hash the table: its sha256 in id order (the baseline later checks use), and its rows' digests."""
    baseline = hashlib.sha256()
    with conn.cursor().copy("COPY pg_temp.vectorops_cutover_digests (side, id, digest) FROM STDIN") as copy, \
            psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as reader:
        for row in iter_table_rows(reader, target.schema, target.table):
            raw = row_bytes(row)
            baseline.update(raw)
            if plan.mode == policy.COPY:
                copy.write_row(("table", row.id, hashlib.sha256(raw).digest()[:DIGEST_BYTES]))
    if plan.mode != policy.COPY:
        rows = conn.execute(statement("sync/select_recorded_table_digests",
                                      table=sql.Identifier(target.schema, target.table)),
                            (target.key, target.attempt_id)).fetchall()
        with conn.cursor().copy("COPY pg_temp.vectorops_cutover_digests (side, id, digest) FROM STDIN") as copy:
            for record_id, digest in rows:
                copy.write_row(("table", record_id, bytes(digest)))
    return baseline.hexdigest()


def compare(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, plan: policy.EmbeddingPlan,
            page: int) -> tuple[list[ExpectationOutcome], str, int]:
    """Compare every record of the server's collection with the live table.

    :param conn: an autocommit connection to the vectors database.
    :param spec: the server.
    :param target: the collection.
    :param plan: how the table's vectors were made.
    :param page: records per page read.
    :return: the outcome, the table's sha256 and the rows compared.
    :raises SourceChanged: when the collection was written during the scan.
    """
    conn.execute(sql_text("sync/create_cutover_digests"))
    conn.execute("TRUNCATE pg_temp.vectorops_cutover_digests")
    before = _count(spec, target)
    scanned = _source_side(conn, spec, target, page)
    after = _count(spec, target)
    if not before == scanned == after:
        raise SourceChanged(f"collection {target.key!r} was written during the cutover (count {before}, scanned "
                            f"{scanned}, then {after}); pause its writers for the cutover window and run it again")
    baseline = _table_side(conn, target, plan)
    quarantined = sorted(str(r[1]) for r in conn.execute(sql_text("sync/select_current_quarantine"),
                                                         (target.key, target.attempt_id)))
    missing, extra, differing, compared = one_row(conn.execute(sql_text("sync/count_cutover_differences"),
                                                               {"quarantined": quarantined}))
    outcome = ExpectationOutcome("digests_match_source", missing == extra == differing == 0, {
        "compared": compared, "missing": missing, "extra": extra, "differing": differing,
        "quarantined": len(quarantined), "source_records": scanned}, "vectorops.parity")
    return [outcome], baseline, int(compared)
