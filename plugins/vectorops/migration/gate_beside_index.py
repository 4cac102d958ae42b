"""The validation gate and the HNSW build of a shadow table, side by side.

Both only read the loaded shadow table: the gate through its own queries, the build through ``CREATE INDEX``,
which takes a lock that lets reads through. The build runs on its own connection in a thread (the work is the
server's; the thread only waits), while the gate runs in the caller's thread, so the finalize step takes the longer
of the two instead of their sum. The gate's exact searches turn index scans off, so an index that appears half-way
never changes what they find.

A gate that fails, or that raises anything, stops the build (``pg_cancel_backend`` through the connection's
cancel request) and drops whatever index it left: a rejected shadow table keeps no index, and the live table was
never touched. A build that fails after a passing gate raises its own error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

import psycopg
from psycopg import sql

from vectorops.db.connect import connect
from vectorops.load import indexing
from vectorops.load.indexing import IndexBuild, IndexSpec
from vectorops.migration import claims

log = logging.getLogger(__name__)

Report = TypeVar("Report")


def gate_beside_index(conn: psycopg.Connection, dsn: str, spec: IndexSpec,
                      run_gate: Callable[[], Report]) -> tuple[Report, IndexBuild]:
    """Run ``run_gate`` while the index of ``spec`` builds on a second connection.

    :param conn: the caller's autocommit connection (the index is dropped through it when the gate fails).
    :param dsn: where the build connects.
    :param spec: the index to build.
    :param run_gate: the validation; what it raises is raised after the build stopped and its index is gone.
    :return: the gate's report and the build's outcome.
    """
    with connect(dsn, autocommit=True, application_name="vectorops_index_build") as build_conn, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="hnsw-build") as pool:
        # a build whose client died stops within a second (as the live lock's session does), instead of finishing
        # an index for nobody that then blocks the rerun's build of the same name
        build_conn.execute(sql.SQL("SET client_connection_check_interval = {}").format(
            sql.Literal(claims.CLIENT_CHECK_MS)))
        building = pool.submit(indexing.build_index, build_conn, spec)
        try:
            report = run_gate()
            build = building.result()  # inside: a Ctrl-C while waiting stops the build too
        except BaseException:
            _stop(conn, build_conn, building, spec)
            raise
        return report, build


def _stop(conn: psycopg.Connection, build_conn: psycopg.Connection, building: Future[IndexBuild],
          spec: IndexSpec) -> None:
    """Cancel the build until it stops, and drop the index it may have finished.

    A cancel only stops the statement running when it arrives; the build runs a few (settings, ``DROP``,
    ``CREATE INDEX``, ``ANALYZE``), so it is sent again until the build's thread ends.
    """
    while not building.done():
        try:
            build_conn.cancel_safe(timeout=10)
        except Exception:  # the build may end by itself meanwhile; the wait covers both
            log.warning("could not cancel the index build on %s.%s", spec.schema, spec.table, exc_info=True)
        wait([building], timeout=0.5)
    error = building.exception()
    if isinstance(error, psycopg.errors.QueryCanceled):
        log.info("index build on %s.%s cancelled", spec.schema, spec.table)
    elif error is not None:  # its own failure; the gate's error, raised by the caller, matters more
        log.warning("index build on %s.%s failed beside a failed gate: %s", spec.schema, spec.table,
                    str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
    try:
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(spec.schema, spec.index_name)))
    except psycopg.Error:  # a lost connection: the next build of this shadow table replaces the leftover
        log.warning("could not drop the index %s.%s", spec.schema, spec.index_name, exc_info=True)
