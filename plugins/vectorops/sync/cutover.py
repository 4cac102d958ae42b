"""Cutover: a final sync, then full parity with the source at that read point, then syncs stop.

The window the writers must pause for runs from the final sync's start to the verified parity; the result
reports it. The parity pass is the migration gate's (the same canonical rows and checksums), comparing every
row of the live table with every record of the source. A write to the source during the window fails the
cutover (nothing is marked), since the table could no longer be said to equal the source.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import psycopg

from vectorops.chroma.files import changes
from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.source import SourceSpec, describe
from vectorops.db.sql_files import sql_text
from vectorops.errors import SourceChanged, ValidationFailed
from vectorops.quality import parity
from vectorops.quality.gate import ValidationReport, store_report
from vectorops.quality.suites import ExpectationOutcome
from vectorops.sync import run, server_parity
from vectorops.sync.source_rows import records_in_id_order
from vectorops.sync.target import SyncTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CutoverResult:
    """A verified cutover.

    :param window_seconds: from the final sync's start to the verified parity: how long writers had to pause.
    :param rows: rows of the live table compared with the source.
    :param content_sha256: the table's checksum at the read point, the baseline of later validations.
    """

    collection: str
    table: str
    read_point: int | None
    window_seconds: float
    sync: run.SyncResult
    rows: int
    content_sha256: str


def _unchanged(files: files_reader.StoreCollection, target: SyncTarget, point: int | None) -> None:
    now = changes.read_point(files)
    if now != point or files_reader.current_stamp(files) != files.stamp:
        raise SourceChanged(f"collection {target.key!r} was written during the cutover (read point {point} is now "
                            f"{now}); pause its writers for the cutover window and run it again")


def _parity(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, final: run.SyncResult,
            batch_size: int) -> tuple[list[ExpectationOutcome], str, int]:
    """The parity of the live table with its source at the final sync's read point."""
    files = run.source_files(spec, target)
    if files is None:
        plan = run.embedding_plan(target, describe(spec, target.ref).dimensions)
        return server_parity.compare(conn, spec, target, plan, batch_size)
    _unchanged(files, target, final.read_point)
    held = {str(r[1]) for r in conn.execute(sql_text("sync/select_current_quarantine"),
                                            (target.key, target.attempt_id))}
    found = parity.compare_with_records(conn, target.schema, target.table,
                                        records_in_id_order(conn, files, batch_size), held,
                                        run.embedding_plan(target, files.dimensions), target.space)
    _unchanged(files, target, final.read_point)
    return found


def cutover(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, batch_size: int) -> CutoverResult:
    """Run the final sync and full parity of ``target`` under its sync lock, and mark it cut over.

    :param conn: an autocommit connection to the vectors database.
    :param spec: the source the collection was migrated from.
    :param target: the collection.
    :param batch_size: records per applied batch and per parity read.
    :raises SourceChanged: when the source was written during the window.
    :raises ValidationFailed: naming the failed checks when the table does not equal the source (recorded in
        ``vectorops.validation_results`` either way).
    :raises CollectionBusy: when a sync or a migration of the collection is running.
    """
    with run.sync_lock(conn, target):
        started = time.perf_counter()
        final = run.sync_locked(conn, spec, target, batch_size, kind="cutover")
        report = ValidationReport(uuid.uuid4().hex, "live", target.key, target.schema, target.table, final.sync_id,
                                  target.attempt_id)
        try:
            outcomes, sha, rows = _parity(conn, spec, target, final, batch_size)
            report.outcomes = [*outcomes, ExpectationOutcome(
                "ids_match_source_after_final_sync", final.in_parity,
                {"read_point": final.read_point, "source_count": final.source_count}, "vectorops.sync")]
            report.seconds = time.perf_counter() - started
            store_report(conn, report)
            if not report.success:
                raise ValidationFailed(report)
        except Exception as exc:
            conn.execute(sql_text("sync/update_cutover_result"), {
                "status": "failed", "window_seconds": None, "error": f"{type(exc).__name__}: {exc}"[:500],
                "sync_id": final.sync_id})
            raise
        window = time.perf_counter() - started
        with conn.transaction():
            conn.execute(sql_text("sync/update_registry_cut_over"), {"content_sha256": sha,
                                                                     "collection": target.key})
            conn.execute(sql_text("sync/update_cutover_result"), {
                "status": "done", "window_seconds": window, "error": None, "sync_id": final.sync_id})
    log.info("collection %r cut over at read point %s: window %.2fs (final sync %.2fs, parity of %s rows)",
             target.key, final.read_point, window, final.seconds, rows)
    return CutoverResult(target.key, final.table, final.read_point, window, final, rows, sha)
