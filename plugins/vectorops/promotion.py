"""Promotion: one transaction swaps shadow → live, keeps live as ``<name>__prev`` and updates the registry."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from vectorops import db, failpoints
from vectorops.naming import previous_name

INDEX_SUFFIXES = ("_pkey", "_hnsw")


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (sql.Identifier(schema, name).as_string(conn),)
                       ).fetchone()
    return bool(row and row[0])


def _rename(conn: psycopg.Connection, schema: str, old: str, new: str) -> None:
    conn.execute(db.statement("promote/rename_table", old=sql.Identifier(schema, old), new=sql.Identifier(new)))
    for suffix in INDEX_SUFFIXES:
        conn.execute(db.statement("promote/rename_index", old=sql.Identifier(schema, old + suffix),
                                  new=sql.Identifier(new + suffix)))


def promote(conn: psycopg.Connection, *, collection: str, schema: str, table: str, shadow: str, attempt_id: str,
            registry: dict[str, Any]) -> None:
    """Swap the shadow table in, atomically, and record the result.

    :param registry: the ``collection_registry`` row (see ``include/sql/promote/upsert_registry.sql``).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops:claim:' || %s, 0))", (collection,))
        conn.execute("SET LOCAL lock_timeout = '30s'")
        prev = previous_name(table)
        conn.execute(db.statement("promote/drop_table", table=sql.Identifier(schema, prev)))
        if _exists(conn, schema, table):
            _rename(conn, schema, table, prev)
        _rename(conn, schema, shadow, table)
        failpoints.hit("promote")
        conn.execute(db.sql_text("promote/upsert_registry"), registry)
        conn.execute(db.sql_text("promote/reset_index_health"), registry)
        conn.execute(
            """UPDATE vectorops.migration_runs SET status = 'promoted', finished_at = now(), heartbeat_at = now(),
                   rows_per_s = %s WHERE attempt_id = %s""", (registry.get("rows_per_s"), attempt_id))
        conn.execute("DELETE FROM vectorops.collection_claims WHERE collection = %s AND attempt_id = %s",
                     (collection, attempt_id))
        conn.execute("DELETE FROM vectorops.migration_source_ids WHERE attempt_id = %s", (attempt_id,))
