"""Shadow tables load UNLOGGED, without WAL, and become logged before they are indexed and promoted.

A load writes about 1.6 kB of WAL per 384-d row. The disk, not the CPU, then limits the load. An UNLOGGED
shadow writes none. When ``wal_level`` is ``minimal`` (the embedded server), ``ALTER TABLE ... SET LOGGED`` also
writes none: it rewrites the table and syncs it to disk once.

The price: after a crash, PostgreSQL empties every unlogged table, and the chunk ledger (a logged table) would
then claim rows the shadow no longer holds. :func:`vectorops.migration.recovery.ensure_intact` runs before
anything reads or writes the shadow. It compares the shadow with the ledger once per server start, and when rows
were lost it resets the ledger, so the lost chunks load again and the ledger is never ahead of the data.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql


def is_unlogged(conn: psycopg.Connection, schema: str, shadow: str) -> bool:
    """Whether ``schema.shadow`` is an UNLOGGED table.

    :param conn: the connection.
    :param schema: the table's schema.
    :param shadow: the table.
    """
    row = conn.execute("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(%s)",
                       (sql.Identifier(schema, shadow).as_string(conn),)).fetchone()
    return row is not None and row[0] == "u"


def truncate(conn: psycopg.Connection, schema: str, shadow: str) -> None:
    """Empty ``schema.shadow`` (its chunks load again).

    :param conn: the connection, in the caller's transaction.
    :param schema: the table's schema.
    :param shadow: the table.
    """
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(schema, shadow)))


def make_logged(conn: psycopg.Connection, schema: str, shadow: str) -> float | None:
    """``ALTER TABLE ... SET LOGGED`` the shadow table if it is still unlogged; it then survives a crash.

    Run it before the table gets indexes: SET LOGGED rewrites the table and rebuilds every index it has.

    :return: the seconds it took, or ``None`` when the table was already logged.
    """
    if not is_unlogged(conn, schema, shadow):
        return None
    started = time.perf_counter()
    conn.execute(sql.SQL("ALTER TABLE {} SET LOGGED").format(sql.Identifier(schema, shadow)))
    return time.perf_counter() - started
