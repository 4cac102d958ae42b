"""The changes of a collection read through Chroma's API (a server), found by a digest scan and applied batch by
batch. A server has no sequence numbers: the table's read point stays unset, and ``read_point_at`` records when
the scan began (a write after that may be missed until the next sync)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import sql

from vectorops.chroma.source import SourceSpec
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text
from vectorops.embedding import policy
from vectorops.sync import apply, server_scan
from vectorops.sync.target import SyncTarget


def run_pass(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, plan: policy.EmbeddingPlan,
             batch_size: int, sync_id: str) -> apply.Totals:
    """Scan the collection, apply what differs from the recorded digests, delete what the source no longer holds.

    :param conn: an autocommit connection holding the collection's sync lock.
    :param spec: the source (a server, or a store whose files cannot be read directly).
    :param target: the collection.
    :param plan: how records get their vectors.
    :param batch_size: records per page read and per batch applied.
    :param sync_id: the sync run.
    """
    conn.execute(sql_text("sync/delete_collection_digests"), (target.key, target.attempt_id))
    recorded = one_value(conn.execute("SELECT count(*) FROM vectorops.sync_digests WHERE collection = %s",
                                      (target.key,)))
    if not recorded and plan.mode == policy.COPY:
        server_scan.seed_from_table(conn, target)
    table = sql.Identifier(target.schema, target.table)
    apply.prepare_session(conn, table)
    began = datetime.now(UTC)
    totals = apply.Totals(None, began)
    for page in server_scan.scan_changes(conn, spec, target, batch_size):
        totals.add(_apply(conn, target, sync_id, plan, page, totals))
    deleted, skipped = server_scan.confirmed_deletes(conn, spec, target, batch_size)
    for page in skipped:
        totals.add(_apply(conn, target, sync_id, plan, page, totals))
    held = sorted(str(r[1]) for r in conn.execute(sql_text("sync/select_current_quarantine"),
                                                  (target.key, target.attempt_id)))
    cleared = [str(r[0]) for r in conn.execute(sql_text("sync/select_absent_quarantined"), (held,))]
    totals.add(apply.apply_batch(conn, target, sync_id, plan, apply.Batch(
        None, None, None, began, deleted=deleted, cleared=cleared, digests={})))
    totals.source_count = int(one_value(conn.execute("SELECT count(*) FROM pg_temp.vectorops_sync_source")))
    return totals


def _apply(conn: psycopg.Connection, target: SyncTarget, sync_id: str, plan: policy.EmbeddingPlan,
           page: server_scan.ScanPage, totals: apply.Totals) -> apply.BatchOutcome:
    totals.gone += len(page.latest.gone)
    return apply.apply_batch(conn, target, sync_id, plan, apply.Batch(page.latest, None, None, totals.listed_at,
                                                                      digests=page.digests))
