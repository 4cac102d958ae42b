"""The changes of a local store's collection since the table's read point, applied batch by batch in sequence
order, each batch committing the read point it reaches."""

from __future__ import annotations

import psycopg
from psycopg import sql

from vectorops.chroma import latest
from vectorops.chroma.files import changes
from vectorops.chroma.files.reader import StoreCollection
from vectorops.chroma.source import SourceSpec
from vectorops.db.sql_files import sql_text
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.sync import apply
from vectorops.sync.changeset import list_changes
from vectorops.sync.target import SyncTarget


def run_pass(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, files: StoreCollection,
             plan: EmbeddingPlan, batch_size: int, sync_id: str) -> apply.Totals:
    """List the changes since ``target``'s read point and apply them.

    :param conn: an autocommit connection holding the collection's sync lock.
    :param spec: the source.
    :param target: the collection.
    :param files: the collection located in its store's files.
    :param plan: how records get their vectors.
    :param batch_size: records per batch (one transaction each).
    :param sync_id: the sync run.
    """
    table = sql.Identifier(target.schema, target.table)
    held = {str(r[1]) for r in conn.execute(sql_text("sync/select_current_quarantine"),
                                            (target.key, target.attempt_id))}
    found = list_changes(conn, files, table, target.read_point, held)
    apply.prepare_session(conn, table)
    totals = apply.Totals(target.read_point, found.listed_at, found.source_count)
    for start in range(0, len(found.changed), batch_size):
        part = found.changed[start:start + batch_size]
        read = next(latest.read_latest(spec, target.ref, target.space, [i for i, _ in part], len(part)))
        totals.gone += len(read.gone)
        reached = max(part[-1][1], totals.read_point if totals.read_point is not None else -1)
        totals.add(apply.apply_batch(conn, target, sync_id, plan,
                                     apply.Batch(read, totals.read_point, reached, found.listed_at)))
        totals.read_point = reached
    totals.add(apply.apply_batch(conn, target, sync_id, plan, apply.Batch(
        None, totals.read_point, found.read_point, found.listed_at, deleted=found.deleted, cleared=found.cleared)))
    totals.read_point = found.read_point
    totals.behind = changes.count_changed_since(files, found.read_point)
    return totals
