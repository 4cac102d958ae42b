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

from vectorops.chroma import locate
from vectorops.chroma.files.reader import StoreCollection
from vectorops.chroma.source import SourceSpec, describe
from vectorops.db.connect import connect
from vectorops.db.rows import one_row
from vectorops.db.sql_files import sql_text, statement
from vectorops.embedding import model as embedding_model
from vectorops.embedding import policy
from vectorops.errors import CollectionBusy, RequestError, VectoropsError
from vectorops.sync import apply, file_pass, server_pass
from vectorops.sync.request import SyncRequest
from vectorops.sync.target import CUT_OVER, SyncTarget, select_targets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did, and where the table stands after it.

    :param read_point: the source's sequence number the table now holds every change up to (``None`` for a
        server, which has none).
    :param lag_records: records written to the source after ``read_point``, counted when the sync ended
        (``None`` for a server: unknown until the next scan).
    :param lag_seconds: how long the oldest of them has waited (0 when there are none; for a server, the time
        since its scan began).
    :param in_parity: the table's ids equal the source's at ``read_point`` (less quarantined and since-deleted
        records), with every change up to it applied.
    """

    sync_id: str
    collection: str
    table: str
    from_point: int | None
    read_point: int | None
    added: int
    updated: int
    deleted: int
    quarantined: int
    source_count: int
    lag_records: int | None
    lag_seconds: float
    seconds: float
    in_parity: bool
    started_at: float


def embedding_plan(target: SyncTarget, source_dimensions: int | None) -> policy.EmbeddingPlan:
    """How the changed records get their vectors: exactly as the collection was migrated.

    :raises RequestError: when the collection was re-embedded with a model other than the configured one.
    """
    mode = target.embedding_mode or policy.COPY
    if mode == policy.COPY:
        return policy.EmbeddingPlan(policy.COPY, source_dimensions, source_dimensions, None, target.embedding_model,
                                    False, "as migrated")
    model = embedding_model.model_info()
    if not embedding_model.same_model(target.embedding_model or "", model.name):
        raise RequestError(f"collection {target.key!r} was re-embedded with {target.embedding_model!r}, but the "
                           f"configured model is {model.name!r}; syncing would mix two models in one table")
    return policy.EmbeddingPlan(mode, source_dimensions, model.dimensions, model.name, target.embedding_model,
                                model.normalizes, "as migrated")


def source_files(spec: SourceSpec, target: SyncTarget) -> StoreCollection | None:
    """``target``'s collection located in its store's files as they are now, or ``None`` when it is read through
    Chroma's API (a server, or files in a layout vectorops does not read).

    :raises RequestError: when the collection was deleted and re-created since its migration.
    """
    files = locate.store_files(spec, target.ref, target.space)
    found = files.collection_id if files is not None else describe(spec, target.ref).collection_id
    if target.source_collection_id and found != target.source_collection_id:
        raise RequestError(f"collection {target.key!r} was deleted and re-created in {spec.uri} since it was "
                           f"migrated (id {target.source_collection_id} is now {found}); migrate it "
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
        claim = conn.execute(sql_text("sync/select_migration_claim"), (target.key,)).fetchone()
        if claim is not None:
            attempt, status, heartbeat = claim
            raise CollectionBusy(f"collection {target.key!r} has a migration that has not finished (attempt "
                                 f"{attempt}, {status}, last heard of at {heartbeat:%Y-%m-%d %H:%M:%S %Z}); its "
                                 "promotion replaces the table with a fresh snapshot: sync after it ends (a stopped "
                                 "migration resumes when run again)")
        conn.execute(sql_text("sync/update_sync_runs_interrupted"), (target.key,))
        yield
    finally:
        try:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended('vectorops:sync:' || %s, 0))", (target.key,))
        except psycopg.Error:  # the session is gone, and its lock with it; the error that ended the sync stands
            log.debug("the sync lock of %r could not be released", target.key, exc_info=True)


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
    except KeyboardInterrupt:
        # the batch in progress was rolled back; committed ones stand with their read point
        _failed(conn, sync_id, started, "interrupted (SIGINT): the batches committed before it stand")
        raise
    except Exception as exc:
        _failed(conn, sync_id, started, f"{type(exc).__name__}: {exc}")
        raise


#: how long marking an interrupted run failed may wait for its row (the next sync marks it otherwise)
MARK_FAILED_LOCK_TIMEOUT_MS = 5000
#: tries of that wait before the run is left for the next sync to mark
MARK_FAILED_ATTEMPTS = 4


def _failed(conn: psycopg.Connection, sync_id: str, started: float, error: str) -> None:
    """Mark the sync run failed: on the sync's connection, or on a new one when an interrupt left that one in a
    query or a transaction; unless the server itself is gone (the next sync marks the run then)."""
    params = {"seconds": time.perf_counter() - started, "error": error[:500], "sync_id": sync_id}
    try:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            conn.execute(sql_text("sync/update_sync_run_failed"), params)
            return
        # the interrupted batch's transaction holds the run's row: end it first, or the new connection's update
        # waits for it forever (seen in a clean-clone run: the process hung, and every later writer of the registry
        # row with it); and never wait long for the row whatever else holds it
        _end_transaction(conn)
        with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True,
                             options=f"-c lock_timeout={MARK_FAILED_LOCK_TIMEOUT_MS}") as fresh:
            for attempt in range(MARK_FAILED_ATTEMPTS):
                try:
                    fresh.execute(sql_text("sync/update_sync_run_failed"), params)
                    return
                except psycopg.errors.LockNotAvailable:
                    # the interrupted backend may still be ending its transaction on a loaded server
                    if attempt == MARK_FAILED_ATTEMPTS - 1:
                        raise
    except psycopg.Error as exc:
        log.warning("sync run %s could not be marked failed (%s): the next sync of the collection marks it",
                    sync_id, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def _end_transaction(conn: psycopg.Connection) -> None:
    """Roll back what an interrupt left open on ``conn`` (a query still running is cancelled first)."""
    if conn.closed:
        return
    try:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
            conn.cancel_safe(timeout=5)
        conn.execute("ROLLBACK")
    except (psycopg.Error, RuntimeError):
        log.debug("the interrupted sync's transaction could not be rolled back; closing its connection",
                  exc_info=True)
        conn.close()


def _run(conn: psycopg.Connection, spec: SourceSpec, target: SyncTarget, files: StoreCollection | None,
         batch_size: int, sync_id: str, started: float, clock: float) -> SyncResult:
    table = sql.Identifier(target.schema, target.table)
    apply.require_live_table(conn, target)
    if files is not None:
        totals = file_pass.run_pass(conn, spec, target, files, embedding_plan(target, files.dimensions), batch_size,
                                    sync_id)
    else:
        plan = embedding_plan(target, describe(spec, target.ref).dimensions)
        totals = server_pass.run_pass(conn, spec, target, plan, batch_size, sync_id)
    in_parity = _in_parity(conn, table, target, totals.gone)
    if totals.behind is None:  # a server: whatever was written after the scan began is unknown until the next
        lag_seconds = (datetime.now(UTC) - totals.listed_at).total_seconds()
    else:
        lag_seconds = (datetime.now(UTC) - totals.listed_at).total_seconds() if totals.behind else 0.0
    conn.execute(sql_text("sync/update_registry_synced"), {
        "source_count": totals.source_count, "changes_behind": totals.behind, "collection": target.key})
    seconds = time.perf_counter() - started
    conn.execute(sql_text("sync/update_sync_run_done"), {
        "seconds": seconds, "lag_records": totals.behind, "lag_seconds": lag_seconds, "window_seconds": None,
        "sync_id": sync_id})
    log.info("collection %r synced to read point %s: added %s, updated %s, deleted %s, quarantined %s in %.2fs; "
             "%s record(s) behind", target.key, totals.read_point, totals.added, totals.updated, totals.deleted,
             totals.quarantined, seconds, "unknown" if totals.behind is None else totals.behind)
    return SyncResult(sync_id=sync_id, collection=target.key, table=f"{target.schema}.{target.table}",
                      from_point=target.read_point, read_point=totals.read_point, added=totals.added,
                      updated=totals.updated, deleted=totals.deleted, quarantined=totals.quarantined,
                      source_count=totals.source_count, lag_records=totals.behind, lag_seconds=lag_seconds,
                      seconds=seconds, in_parity=in_parity, started_at=clock)


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
