"""Applying one batch of changes to a live table, in one transaction with the read point it reaches.

The batch's current records are COPYed into a temporary table exactly as a migration loads them (the same
encoder, embedding policy and quarantine), then upserted into the live table, whose HNSW index PostgreSQL keeps
up to date row by row. A record deleted since it was listed, or one whose new value PostgreSQL cannot hold, leaves
the table; the latter goes to quarantine with its payload, and its earlier quarantine entry is cleared. The
registry's read point moves in the same transaction, so a kill loses or repeats nothing: a rerun starts from
the last committed read point, and re-applying a change is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from vectorops import failpoints
from vectorops.chroma.latest import LatestBatch
from vectorops.db import ownership
from vectorops.db.sql_files import sql_text, statement
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.errors import CollectionBusy, RequestError
from vectorops.load import copy, quarantine
from vectorops.migration.chunk_load import write_fetched
from vectorops.records import printable_id
from vectorops.sync import long_ids
from vectorops.sync.target import CUT_OVER, SYNCING, SyncTarget

BATCH_TABLE = long_ids.BATCH_TABLE


@dataclass(frozen=True)
class BatchOutcome:
    """What one applied batch did to the live table."""

    added: int
    updated: int
    deleted: int
    quarantined: int


@dataclass
class Totals:
    """What a sync's batches did together, and where they left the table.

    :param read_point: the read point the last batch committed (``None`` for a source without one).
    :param gone: records listed as changed that were deleted before they were read.
    :param behind: records written after ``read_point`` when the pass ended (``None`` when not countable).
    """

    read_point: int | None
    listed_at: datetime
    source_count: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    quarantined: int = 0
    gone: int = 0
    behind: int | None = None

    def add(self, outcome: BatchOutcome) -> None:
        """Count one applied batch."""
        self.added += outcome.added
        self.updated += outcome.updated
        self.deleted += outcome.deleted
        self.quarantined += outcome.quarantined


@dataclass(frozen=True)
class Batch:
    """One batch: records read from the source, the table rows to delete, and the read point it reaches.

    :param expected_point: the read point the registry must still hold (the previous batch's).
    :param read_point: the read point the table holds once the batch commits.
    :param deleted: live-table ids the source no longer holds.
    :param cleared: quarantined ids the source no longer holds.
    :param digests: for a source read through Chroma's API, the digest of each record read (recorded with the
        rows), ``{}`` for a batch that only deletes; ``None`` for a local store (its sequence numbers suffice).
    """

    latest: LatestBatch | None
    expected_point: int | None
    read_point: int | None
    listed_at: datetime
    deleted: Sequence[str] = ()
    cleared: Sequence[str] = ()
    digests: Mapping[str, bytes] | None = None


def prepare_session(conn: psycopg.Connection, table: sql.Identifier) -> None:
    """Create this session's batch table shaped like the live ``table`` (replacing another collection's)."""
    conn.execute(sql_text("sync/drop_sync_rows"))
    conn.execute(statement("sync/create_sync_rows", table=table))


def require_live_table(conn: psycopg.Connection, target: SyncTarget) -> None:
    """Stop unless ``target``'s live table is the one vectorops created: a sync writes to nothing else.

    :raises RequestError: naming the table, when it is gone (dropped or renamed) or is not vectorops's (dropped and
        re-created by someone else).
    """
    if ownership.owns_table(conn, target.schema, target.table):
        return
    name = f"{target.schema}.{target.table}"
    if ownership.relation_kind(conn, target.schema, target.table) is None:
        raise RequestError(f"collection {target.key!r}: its live table {name} no longer exists (dropped or renamed "
                           "by hand); nothing was written: migrate the collection again")
    raise RequestError(f"collection {target.key!r}: {name} is not the table vectorops created for it (it was "
                       "dropped and re-created by someone else); nothing was written to it: migrate the collection "
                       "again, into another schema if that table must stay")


def _lock_read_point(conn: psycopg.Connection, target: SyncTarget, expected: int | None) -> None:
    row = conn.execute(sql_text("sync/select_registry_read_point"), (target.key,)).fetchone()
    if row is None:
        raise RequestError(f"collection {target.key!r} is no longer in the registry")
    point, state, attempt_id, schema, table = row
    require_live_table(conn, target)
    if state == CUT_OVER:
        raise RequestError(f"collection {target.key!r} was cut over while this sync ran; nothing more is applied")
    if attempt_id != target.attempt_id or (schema, table) != (target.schema, target.table) or point != expected:
        raise CollectionBusy(f"collection {target.key!r} was migrated again or synced by another process while "
                             f"this sync ran (read point {expected} became {point}); sync it again")


def _record_digests(conn: psycopg.Connection, target: SyncTarget, digests: Mapping[str, bytes],
                    deleted: Sequence[str]) -> None:
    if digests:
        ids = list(digests)
        conn.execute(sql_text("sync/upsert_digests"), (target.key, target.attempt_id, ids, [digests[i] for i in ids]))
    if deleted:
        conn.execute(sql_text("sync/delete_digests"), (target.key, list(deleted)))


def apply_batch(conn: psycopg.Connection, target: SyncTarget, sync_id: str, plan: EmbeddingPlan,
                batch: Batch) -> BatchOutcome:
    """Apply ``batch`` to the live table and move the registry's read point, in one transaction.

    :param conn: a connection to the vectors database, outside a transaction, after :func:`prepare_session`.
    :param target: the collection.
    :param sync_id: the sync run (recorded with each quarantined record).
    :param plan: how the records get their vectors (as the collection was migrated).
    :param batch: the batch.
    :raises CollectionBusy: when the read point moved under this sync (another sync, or a new migration).
    """
    table = sql.Identifier(target.schema, target.table)
    entries: list[quarantine.Entry] = []
    added = updated = 0
    with conn.transaction():
        _lock_read_point(conn, target, batch.expected_point)
        read_ids: list[str] = []
        gone: list[str] = []
        if batch.latest is not None:
            read_ids, gone = batch.latest.records.ids, batch.latest.gone
            conn.execute("TRUNCATE pg_temp.vectorops_sync_rows")
            entries = write_fetched(conn, "pg_temp", "vectorops_sync_rows", [batch.latest.records], plan,
                                    target.space, copy.Tally())
            added, updated, refused = long_ids.upsert_long_ids(conn, table, batch.latest.records)
            entries += refused
            for (inserted,) in conn.execute(statement("sync/upsert_live_records", table=table, batch=BATCH_TABLE)):
                added, updated = added + bool(inserted), updated + (not inserted)
        unstorable = {rid for rid, _, _ in entries}
        removed = [i for i in read_ids if printable_id(i) in unstorable and printable_id(i) == i]
        doomed = [*gone, *batch.deleted, *removed]
        deleted_rows = {r[0] for r in conn.execute(statement("sync/delete_live_records", table=table), (doomed,))} \
            if doomed else set()
        touched = sorted({printable_id(i) for i in [*read_ids, *gone]} | set(batch.cleared))
        cleared = conn.execute(sql_text("sync/update_quarantine_cleared"), {
            "sync_id": sync_id, "collection": target.key, "attempt_id": target.attempt_id,
            "record_ids": touched}).rowcount if touched else 0
        quarantine.store(conn, collection=target.key, attempt_id=target.attempt_id, run_id=sync_id, entries=entries)
        if batch.digests is not None:
            _record_digests(conn, target, batch.digests, [*gone, *batch.deleted])
        failpoints.hit("sync_apply")
        deleted = len(deleted_rows) - len([i for i in removed if i in deleted_rows])
        conn.execute(sql_text("sync/update_registry_read_point"), {
            "read_point": batch.read_point, "read_point_at": batch.listed_at, "sync_state": SYNCING,
            "sync_id": sync_id, "collection": target.key, "loaded_delta": added - len(deleted_rows),
            "quarantined_delta": len(entries) - cleared})
        conn.execute(sql_text("sync/update_sync_run_progress"), {
            "to_point": batch.read_point, "added": added, "updated": updated, "deleted": deleted,
            "quarantined": len(entries), "sync_id": sync_id})
    failpoints.hit("sync_batch")
    return BatchOutcome(added, updated, deleted, len(entries))
