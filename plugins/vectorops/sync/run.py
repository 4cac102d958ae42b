"""One sync of one collection: list the changes since its read point, apply them in batches, measure the lag.

Only one sync of a collection runs at a time (a session advisory lock; a second is refused), never while a
migration of it holds its claim, and never after it was cut over.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from vectorops.chroma import latest, locate
from vectorops.chroma.files import changes
from vectorops.chroma.files.reader import StoreCollection
from vectorops.chroma.source import SourceSpec
from vectorops.db.connect import connect
from vectorops.db.rows import one_row
from vectorops.db.sql_files import sql_text, statement
from vectorops.embedding import model as embedding_model
from vectorops.embedding import policy
from vectorops.errors import CollectionBusy, RequestError, VectoropsError
from vectorops.sync import apply
from vectorops.sync.changeset import list_changes
from vectorops.sync.request import SyncRequest
from vectorops.sync.target import CUT_OVER, SyncTarget, select_targets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did, and where the table stands after it.

    :param read_point: the source's sequence number the table now holds every change up to.
    :param lag_records: records written to the source after ``read_point``, counted when the sync ended.
    :param lag_seconds: how long the oldest of them has waited (0 when there are none).
    :param in_parity: the table's ids equal the source's at ``read_point`` (less quarantined and since-deleted
        records), with every change up to it applied.
    """

    sync_id: str
    collection: str
    table: str
    from_point: int | None
    read_point: int
    added: int
    updated: int
    deleted: int
    quarantined: int
    source_count: int
    lag_records: int
    lag_seconds: float
    seconds: float
    in_parity: bool
    started_at: float


def embedding_plan(target: SyncTarget, files: StoreCollection) -> policy.EmbeddingPlan:
    """How the changed records get their vectors: exactly as the collection was migrated.

    :raises RequestError: when the collection was re-embedded with a model other than the configured one.
    """
    mode = target.embedding_mode or policy.COPY
    if mode == policy.COPY:
        return policy.EmbeddingPlan(policy.COPY, files.dimensions, files.dimensions, None, target.embedding_model,
                                    False, "as migrated")
    model = embedding_model.model_info()
    if not embedding_model.same_model(target.embedding_model or "", model.name):
        raise RequestError(f"collection {target.key!r} was re-embedded with {target.embedding_model!r}, but the "
                           f"configured model is {model.name!r}; syncing would mix two models in one table")
    return policy.EmbeddingPlan(mode, files.dimensions, model.dimensions, model.name, target.embedding_model,
                                model.normalizes, "as migrated")


def source_files(spec: SourceSpec, target: SyncTarget) -> StoreCollection:
    """``target``'s collection located in its store's files, as they are now.

    :raises RequestError: when it cannot be read from its files, or was re-created since its migration.
    """
    files, why = locate.locate_files(spec, target.ref, target.space)
    if files is None:
        raise RequestError(f"collection {target.key!r} cannot be synced: {why}; `vectorops sync` reads the "
                           "changes from a local store's files")
    if target.source_collection_id and files.collection_id != target.source_collection_id:
        raise RequestError(f"collection {target.key!r} was deleted and re-created in {spec.uri} since it was "
                           f"migrated (id {target.source_collection_id} is now {files.collection_id}); migrate it "
                           "again")
    return files


@contextmanager
def sync_lock(conn: psycopg.Connection, target: SyncTarget) -> Iterator[None]:
    """Hold ``target``'s sync lock on ``conn``'s session for the block.

    :raises CollectionBusy: when another sync or a migration of the collection is running.
    :raises RequestError: when the collection was cut over.
    """
    if target.state == CUT_OVER:
        raise RequestError(f"collection {target.key!r} was cut over; syncs stop there (migrate it again to start "
                           "over)")
    got = one_row(conn.execute("SELECT pg_try_advisory_lock(hashtextextended('vectorops:sync:' || %s, 0))",
                               (target.key,)))[0]
    if not got:
        raise CollectionBusy(f"collection {target.key!r} is being synced by another process; try again when it ends")
    try:
        claim = conn.execute("SELECT attempt_id FROM vectorops.collection_claims WHERE collection = %s",
                             (target.key,)).fetchone()
        if claim is not None:
            raise CollectionBusy(f"collection {target.key!r} is being migrated (attempt {claim[0]}); sync it after "
                                 "the migration ends")
        conn.execute(sql_text("sync/update_sync_runs_interrupted"), (target.key,))
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended('vectorops:sync:' || %s, 0))", (target.key,))


def sync_collection(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, batch_size: int) -> SyncResult:
    """Bring ``target``'s live table up to date with its source, under its sync lock.

    :param conn: an autocommit connection to the vectors database (its session holds the sync's lock).
    :param spec: the source the collection was migrated from.
    :param target: the collection.
    :param batch_size: records per applied batch (one transaction each).
    :raises CollectionBusy: when another sync or a migration of the collection is running.
    :raises RequestError: when the collection was cut over, re-created in the source, or cannot be synced.
    """
    with sync_lock(conn, target):
        return sync_locked(conn, spec, target, batch_size)


def sync_locked(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, batch_size: int,
                kind: str = "sync") -> SyncResult:
    """:func:`sync_collection` for a caller that holds :func:`sync_lock` (a cutover holds it on past the sync).

    :param kind: ``sync``, or ``cutover`` for a cutover's final sync (recorded in ``vectorops.sync_runs``).
    """
    started, clock = time.perf_counter(), time.time()
    files = source_files(spec, target)
    sync_id = f"{kind}-{uuid.uuid4().hex[:12]}"
    conn.execute(sql_text("sync/insert_sync_run"), {"sync_id": sync_id, "collection": target.key,
                                                    "kind": kind, "from_point": target.read_point})
    try:
        return _run(conn, spec, target, files, batch_size, sync_id, started, clock)
    except Exception as exc:
        conn.execute(sql_text("sync/update_sync_run_failed"), {
            "seconds": time.perf_counter() - started, "error": f"{type(exc).__name__}: {exc}"[:500],
            "sync_id": sync_id})
        raise


def _run(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, files: StoreCollection, batch_size: int,
         sync_id: str, started: float, clock: float) -> SyncResult:
    table = sql.Identifier(target.schema, target.table)
    plan = embedding_plan(target, files)
    held = {str(r[1]) for r in conn.execute(sql_text("sync/select_current_quarantine"),
                                                   (target.key, target.attempt_id))}
    found = list_changes(conn, files, table, target.read_point, held)
    apply.prepare_session(conn, table)
    point, totals, gone = target.read_point, [0, 0, 0, 0], 0
    for start in range(0, len(found.changed), batch_size):
        part = found.changed[start:start + batch_size]
        read = next(latest.read_latest(spec, target.ref, target.space, [i for i, _ in part], len(part)))
        gone += len(read.gone)
        reached = max(part[-1][1], point if point is not None else -1)
        done = apply.apply_batch(conn, target, sync_id, plan, apply.Batch(read, point, reached, found.listed_at))
        point = reached
        totals = [t + d for t, d in zip(totals, (done.added, done.updated, done.deleted, done.quarantined),
                                        strict=True)]
    done = apply.apply_batch(conn, target, sync_id, plan, apply.Batch(
        None, point, found.read_point, found.listed_at, deleted=found.deleted, cleared=found.cleared))
    totals[2] += done.deleted
    in_parity = _in_parity(conn, table, target, gone)
    behind = changes.count_changed_since(files, found.read_point)
    lag_seconds = (datetime.now(UTC) - found.listed_at).total_seconds() if behind else 0.0
    conn.execute(sql_text("sync/update_registry_synced"), {
        "source_count": found.source_count, "changes_behind": behind, "collection": target.key})
    seconds = time.perf_counter() - started
    conn.execute(sql_text("sync/update_sync_run_done"), {
        "seconds": seconds, "lag_records": behind, "lag_seconds": lag_seconds, "window_seconds": None,
        "sync_id": sync_id})
    added, updated, deleted, quarantined = totals
    result = SyncResult(sync_id=sync_id, collection=target.key, table=f"{target.schema}.{target.table}",
                        from_point=target.read_point, read_point=found.read_point, added=added, updated=updated,
                        deleted=deleted, quarantined=quarantined, source_count=found.source_count, lag_records=behind,
                        lag_seconds=lag_seconds, seconds=seconds, in_parity=in_parity, started_at=clock)
    log.info("collection %r synced to read point %s: added %s, updated %s, deleted %s, quarantined %s in %.2fs; "
             "%s record(s) behind", target.key, found.read_point, *totals, seconds, behind)
    return result


def _in_parity(conn: psycopg.Connection, table: sql.Identifier, target: SyncTarget, gone: int) -> bool:
    """Whether the table holds exactly the source's ids at the read point, less the quarantined records and those
    deleted after the read point (``gone``)."""
    missing, extra = one_row(conn.execute(statement("sync/count_sync_difference", table=table)))
    quarantined = one_row(conn.execute(sql_text("sync/count_quarantined_source"), (target.key, target.attempt_id)))[0]
    return extra == 0 and missing == quarantined + gone


@dataclass(frozen=True)
class SyncFailure:
    """A collection whose sync failed or was refused, and why (one line)."""

    collection: str
    error: str


def sync_all(dsn: str, request: SyncRequest) -> list[SyncResult | SyncFailure]:
    """Sync every collection of ``request``, one after another; a failure of one does not stop the others.

    :param dsn: the vectors database.
    :param request: the validated request.
    :raises RequestError: when the request names collections not migrated from its source.
    """
    outcomes: list[SyncResult | SyncFailure] = []
    with connect(dsn, autocommit=True) as conn:
        targets = select_targets(conn, request.source.uri, request.collections, request.schema)
        for target in targets:
            if target.state == CUT_OVER and not request.collections:
                outcomes.append(SyncFailure(target.key, "cut over: no longer synced"))
                continue
            try:
                outcomes.append(sync_collection(conn, request.source, target, request.batch_size))
            except (VectoropsError, psycopg.Error) as exc:
                log.error("collection %r: sync failed: %s", target.key, exc)
                outcomes.append(SyncFailure(target.key, f"{type(exc).__name__}: {exc}".splitlines()[0]))
    return outcomes
