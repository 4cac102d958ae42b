"""Shadow tables load UNLOGGED, without WAL, and become logged before they are indexed and promoted.

A load writes about 1.6 kB of WAL per 384-d row. The disk, not the CPU, then limits the load. An UNLOGGED
shadow writes none. When ``wal_level`` is ``minimal`` (the embedded server), ``ALTER TABLE ... SET LOGGED`` also
writes none: it rewrites the table and syncs it to disk once.

The price: after a crash, PostgreSQL empties every unlogged table, and the chunk ledger (a logged table) would
then claim rows the shadow no longer holds. :func:`ensure_intact` runs before anything reads or writes the
shadow. It compares the shadow with the ledger once per server start, and when rows were lost it resets the
ledger, so the lost chunks load again and the ledger is never ahead of the data.
"""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def _is_unlogged(conn: psycopg.Connection, schema: str, shadow: str) -> bool:
    row = conn.execute("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(%s)",
                       (sql.Identifier(schema, shadow).as_string(conn),)).fetchone()
    return row is not None and row[0] == "u"


def ensure_intact(conn: psycopg.Connection, *, collection: str, attempt_id: str, schema: str, shadow: str) -> int:
    """Make the chunk ledger of ``attempt_id`` agree with its shadow table after a server restart.

    Cheap when the server has not restarted since the last check (one row read). Otherwise it locks the run's
    row, counts the shadow, and when rows are missing empties the shadow and marks every chunk pending again.
    Must run inside a transaction, before the transaction touches the shadow table.

    :return: the number of chunks that were done and must load again (0 when nothing was lost).
    """
    same = conn.execute(
        """SELECT shadow_server_start IS NOT DISTINCT FROM pg_postmaster_start_time()
           FROM vectorops.migration_runs WHERE attempt_id = %s""", (attempt_id,)).fetchone()
    if same is None or same[0]:
        return 0
    # Every connection dies with a restart, so no chunk transaction that wrote the shadow is still open: the
    # first one here takes the row lock before touching the shadow, and the others wait on it.
    same = conn.execute(
        """SELECT shadow_server_start IS NOT DISTINCT FROM pg_postmaster_start_time()
           FROM vectorops.migration_runs WHERE attempt_id = %s FOR UPDATE""", (attempt_id,)).fetchone()
    if same is None or same[0]:
        return 0
    reset = 0
    if _is_unlogged(conn, schema, shadow):
        done, loaded = conn.execute(
            """SELECT count(*), coalesce(sum(loaded_count), 0) FROM vectorops.migration_chunks
               WHERE attempt_id = %s AND status = 'done'""", (attempt_id,)).fetchone()
        in_table = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(schema, shadow))).fetchone()[0]
        if in_table != loaded:
            reset = int(done)
            _reset_ledger(conn, attempt_id, schema, shadow)
            log.warning("collection %r: the server restarted after a crash and the unlogged shadow table %s.%s "
                        "holds %s of the %s rows its %s loaded chunk(s) wrote; those chunks load again (attempt %s)",
                        collection, schema, shadow, in_table, loaded, done, attempt_id)
    conn.execute("UPDATE vectorops.migration_runs SET shadow_server_start = pg_postmaster_start_time() "
                 "WHERE attempt_id = %s", (attempt_id,))
    return reset


def _reset_ledger(conn: psycopg.Connection, attempt_id: str, schema: str, shadow: str) -> None:
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(schema, shadow)))
    conn.execute(
        """UPDATE vectorops.migration_chunks SET status = 'pending', loaded_count = NULL, quarantined_count = NULL,
               seconds = NULL, done_at = NULL, reembedded_count = 0, kept_vector_count = 0, metadata_count = 0
           WHERE attempt_id = %s""", (attempt_id,))
    conn.execute("DELETE FROM vectorops.quarantine WHERE attempt_id = %s", (attempt_id,))
    conn.execute("""UPDATE vectorops.migration_runs SET loaded_count = 0, quarantined_count = 0, load_seconds = 0
                    WHERE attempt_id = %s""", (attempt_id,))


def make_logged(conn: psycopg.Connection, schema: str, shadow: str) -> float | None:
    """``ALTER TABLE ... SET LOGGED`` the shadow table if it is still unlogged; it then survives a crash.

    Run it before the table gets indexes: SET LOGGED rewrites the table and rebuilds every index it has.

    :return: the seconds it took, or ``None`` when the table was already logged.
    """
    if not _is_unlogged(conn, schema, shadow):
        return None
    started = time.perf_counter()
    conn.execute(sql.SQL("ALTER TABLE {} SET LOGGED").format(sql.Identifier(schema, shadow)))
    return time.perf_counter() - started
