"""Run a maintenance plan: every statement in a session with ``lock_timeout`` and ``statement_timeout``.

All statements run in autocommit mode, as ``REINDEX CONCURRENTLY`` and ``VACUUM`` require. A rebuild sizes
``maintenance_work_mem`` from the estimated graph and reports pgvector's "hnsw graph no longer fits into
maintenance_work_mem" NOTICE as a warning with the numbers. The rebuild of an IVFFlat index with other lists sets
them on the index first (``ALTER INDEX ... SET (lists = n)``, which ``REINDEX`` builds with). A failed rebuild
drops the invalid ``_ccnew`` index it left behind, and gives the index back the lists it had. Each action is
recorded in ``vectorops.maintenance_log`` before and after it runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.connect import connect as db_connect
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text
from vectorops.errors import VectoropsError
from vectorops.load import indexing
from vectorops.maintenance import catalog, ledger, planner
from vectorops.maintenance.planner import Action, TablePlan

log = logging.getLogger(__name__)

GRAPH_NOTICE = "hnsw graph no longer fits into maintenance_work_mem"
CLIENT_CHECK_MS = 1000


@dataclass
class ActionResult:
    """How one action ended: ``done`` or ``failed`` (with the error)."""

    action: Action
    status: str
    seconds: float
    log_id: int
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class MaintenanceFailed(VectoropsError, RuntimeError):
    """At least one maintenance action failed; the others still ran and every one is in the log."""

    def __init__(self, failed: list[ActionResult]) -> None:
        lines = "; ".join(f"{r.action.kind} {r.action.schema}.{r.action.index or r.action.table}: {r.error}"
                          for r in failed)
        super().__init__(f"{len(failed)} maintenance action(s) failed: {lines}")
        self.failed = failed
        self.table = f"{failed[0].action.schema}.{failed[0].action.table}" if failed else None
        self.collection = failed[0].action.collection if failed else None


def connect(settings: Settings) -> psycopg.Connection:
    """A maintenance session on the vectors database, with the configured lock and statement timeouts.

    The server checks every :data:`CLIENT_CHECK_MS` that the session's client is alive: the statement of a
    killed maintenance run (a rebuild of many minutes) is cancelled instead of running on for nobody, and the
    invalid index it leaves is dropped by the next run.
    """
    conn = db_connect(runtime.start(settings), autocommit=True, application_name="vectorops-maintenance",
                      lock_timeout_ms=settings.maintenance.lock_timeout_ms,
                      statement_timeout_s=settings.maintenance.statement_timeout_s)
    conn.execute(sql.SQL("SET client_connection_check_interval = {}").format(sql.Literal(CLIENT_CHECK_MS)))
    return conn


def plan(conn: psycopg.Connection, settings: Settings, collections: list[str] | None = None) -> list[TablePlan]:
    """The maintenance plan of every live table (or of ``collections``), from the current statistics."""
    return [planner.plan_table(state, settings.maintenance, mem_cap_mb=settings.max_maintenance_work_mem_mb,
                               min_recall=settings.monitor.min_recall)
            for state in catalog.live_tables(conn, collections)]


@contextmanager
def _concurrent_lock_timeout(conn: psycopg.Connection, seconds: int) -> Iterator[None]:
    """A longer ``lock_timeout`` for a concurrent index operation, then the session's own again.

    ``REINDEX``/``DROP INDEX CONCURRENTLY`` wait for every older transaction to finish, and those waits count
    against ``lock_timeout``; the lock they hold (SHARE UPDATE EXCLUSIVE) never blocks reads or writes, so a
    long wait costs the application nothing, while a short limit would throw away a finished graph build.
    """
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(seconds)}s")))
    try:
        yield
    finally:
        conn.execute("RESET lock_timeout")


def _drop(conn: psycopg.Connection, schema: str, index: str, lock_s: int | None) -> None:
    """``DROP INDEX CONCURRENTLY`` as the table's owner; as ``vectorops_maint``, whose MAINTAIN does not cover DROP,
    through ``vectorops.drop_invalid_index`` (invalid leftovers only: a plain DROP, within the session's lock_timeout).

    :param lock_s: the longer ``lock_timeout`` of a concurrent drop; ``None`` keeps the session's.
    """
    owned = conn.execute("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass(%s)",
                         (sql.Identifier(schema, index).as_string(conn),)).fetchone()
    if owned is not None and not owned[0]:
        conn.execute("SELECT vectorops.drop_invalid_index(%s, %s)", (schema, index))
        return
    with _concurrent_lock_timeout(conn, lock_s) if lock_s is not None else nullcontext():
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, index)))


def _drop_index(conn: psycopg.Connection, action: Action, details: dict[str, Any], lock_s: int) -> None:
    _drop(conn, action.schema, str(action.index), lock_s)


def _drop_leftovers(conn: psycopg.Connection, action: Action) -> list[str]:
    """Drop the invalid ``<index>_ccnew*`` a failed ``REINDEX CONCURRENTLY`` of ``action.index`` left."""
    rows = conn.execute(
        sql_text("maintenance/select_leftover_indexes"),
        (sql.Identifier(action.schema, action.table).as_string(conn),
         (action.index or "").replace("_", r"\_") + r"\_ccnew%")).fetchall()
    for (name,) in rows:
        _drop(conn, action.schema, name, None)
    return [r[0] for r in rows]


def _set_lists(conn: psycopg.Connection, schema: str, index: str, lists: int | None) -> None:
    """Set an IVFFlat index's ``lists`` (``None``: back to pgvector's default) for its next build; the index as
    built keeps its own lists until then. A catalog change, within the session's short ``lock_timeout``: its lock
    on the index would hold up the searches queued behind it."""
    target = sql.Identifier(schema, index)
    if lists is None:
        conn.execute(sql.SQL("ALTER INDEX {} RESET (lists)").format(target))
    else:
        conn.execute(sql.SQL("ALTER INDEX {} SET (lists = {})").format(target, sql.Literal(int(lists))))


def _reindex(conn: psycopg.Connection, action: Action, details: dict[str, Any], lock_s: int) -> None:
    index = action.index
    if index is None:  # the planner names the index of every rebuild
        raise ValueError(f"a rebuild of {action.schema}.{action.table} that names no index")
    lists_before = None
    if action.lists is not None:
        lists_before = one_value(conn.execute(sql_text("maintenance/select_index_lists"),
                                              (sql.Identifier(action.schema, index).as_string(conn),)))
        details.update(lists_before=lists_before, lists=action.lists)
        _set_lists(conn, action.schema, index, action.lists)
    notices: list[str] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        message = diag.message_primary or ""
        notices.append(message)
        if GRAPH_NOTICE in message:
            log.warning("REINDEX of %s.%s: %s; maintenance_work_mem was %s MB for an estimated %s MB graph. "
                        "Raise VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB (and the server's memory) to build faster",
                        action.schema, action.index, message, action.maintenance_work_mem_mb,
                        action.estimated_graph_mb)

    workers = indexing.parallel_workers()
    details.update(maintenance_work_mem_mb=action.maintenance_work_mem_mb,
                   estimated_graph_mb=action.estimated_graph_mb, parallel_workers=workers)
    if action.maintenance_work_mem_mb:
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(
            sql.Literal(f"{action.maintenance_work_mem_mb}MB")))
    conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(workers)))
    conn.add_notice_handler(on_notice)
    try:
        with _concurrent_lock_timeout(conn, lock_s):
            conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(
                sql.Identifier(action.schema, index)))
    except psycopg.Error:
        try:
            details["dropped_leftovers"] = _drop_leftovers(conn, action)
        except psycopg.Error as cleanup:  # the next run drops them; the REINDEX error is the one to report
            details["leftover_cleanup_error"] = f"{type(cleanup).__name__}: {str(cleanup).strip()}"
        if action.lists is not None and not conn.broken:
            try:  # the lists the index was built with: the next run plans the rebuild again
                _set_lists(conn, action.schema, index, lists_before)
            except psycopg.Error as cleanup:  # the index still searches with its built lists; the next run retries
                details["lists_restore_error"] = f"{type(cleanup).__name__}: {str(cleanup).strip()}"
        raise
    finally:
        conn.remove_notice_handler(on_notice)
        details["notices"] = notices
        details["graph_exceeded_memory"] = any(GRAPH_NOTICE in n for n in notices)
        if not conn.broken:
            conn.execute("RESET maintenance_work_mem")
            conn.execute("RESET max_parallel_maintenance_workers")
    counting = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(action.schema, action.table))
    rows = one_value(conn.execute(counting))
    details["rows"] = int(rows)
    if action.vector_index:
        # the counters lag our own statements by up to a second; the rebuild only resets them, so that is fine
        _, _, changes, dead = ledger.table_activity(conn, action.schema, action.table)
        ledger.record_index_build(conn, schema=action.schema, table=action.table, index=action.index,
                                  rows=int(rows), changes=changes, dead=dead)


def _vacuum(conn: psycopg.Connection, action: Action, details: dict[str, Any], lock_s: int) -> None:
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(action.schema, action.table)))


def _analyze(conn: psycopg.Connection, action: Action, details: dict[str, Any], lock_s: int) -> None:
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(action.schema, action.table)))


RUNNERS = {planner.DROP_INDEX: _drop_index, planner.REINDEX: _reindex, planner.VACUUM_ANALYZE: _vacuum,
           planner.ANALYZE: _analyze}


def run_action(conn: psycopg.Connection, action: Action, run_id: str | None,
               concurrent_lock_timeout_s: int = 600) -> ActionResult:
    """Run one action and record it; a failure is recorded and returned, not raised.

    :param concurrent_lock_timeout_s: ``lock_timeout`` of a concurrent index operation (see
        ``VECTOROPS_MAINT_CONCURRENT_LOCK_TIMEOUT_S``).
    """
    before = ledger.table_activity(conn, action.schema, action.table)
    details: dict[str, Any] = ledger.session_identity(conn)
    log_id = ledger.start_action(conn, action, run_id, before[:2], details)
    log.info("%s %s.%s%s: %s", action.kind, action.schema, action.table,
             f" (index {action.index})" if action.index else "", action.reason)
    started = time.perf_counter()
    error = None
    try:
        RUNNERS[action.kind](conn, action, details, concurrent_lock_timeout_s)
    except psycopg.Error as exc:
        error = f"{type(exc).__name__}: {str(exc).strip()}"
        log.error("%s %s.%s failed after %.1fs: %s", action.kind, action.schema, action.index or action.table,
                  time.perf_counter() - started, error)
    seconds = time.perf_counter() - started
    after = ledger.table_activity(conn, action.schema, action.table)
    status = "failed" if error else "done"
    ledger.finish_action(conn, log_id, status=status, seconds=seconds, sizes=after[:2], details=details, error=error)
    if not error:
        log.info("%s %s.%s done in %.1fs: table %s → %s bytes, indexes %s → %s bytes", action.kind, action.schema,
                 action.table, seconds, before[0], after[0], before[1], after[1])
    return ActionResult(action, status, seconds, log_id, error, details)


def run_plan(conn: psycopg.Connection, table_plan: TablePlan, run_id: str | None,
             concurrent_lock_timeout_s: int = 600) -> list[ActionResult]:
    """Run every action of one table's plan in order; later actions still run when one fails."""
    state = table_plan.state
    for note in table_plan.info:
        log.info("%s: %s", state.qualified, note)
    for note in table_plan.notes:
        log.warning("%s: %s", state.qualified, note)
    for log_id, kind, target, started_at in ledger.close_abandoned(conn, state.schema, state.table):
        log.warning("%s: %s of %s (maintenance_log %s, started %s) was interrupted: its session is gone; "
                    "marked failed", state.qualified, kind, target, log_id, started_at)
    if table_plan.reset_baseline:
        ledger.set_change_baseline(conn, schema=state.schema, table=state.table, index=state.index_name,
                                   built_rows=state.built_rows, changes=state.changes, dead=state.dead_rows)
    return [run_action(conn, action, run_id, concurrent_lock_timeout_s) for action in table_plan.actions]


def maintain(settings: Settings, collections: list[str] | None = None, run_id: str | None = None) -> list[ActionResult]:
    """Plan and run the maintenance of every live table (or of ``collections``); see :func:`raise_for_failures`."""
    results: list[ActionResult] = []
    with connect(settings) as conn:
        for table_plan in plan(conn, settings, collections):
            results += run_plan(conn, table_plan, run_id, settings.maintenance.concurrent_lock_timeout_s)
    return results


def raise_for_failures(results: list[ActionResult]) -> None:
    """:raises MaintenanceFailed: when any of ``results`` failed."""
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise MaintenanceFailed(failed)
