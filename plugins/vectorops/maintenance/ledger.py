"""The records maintenance keeps: ``vectorops.maintenance_log`` rows and index baselines in ``index_health``."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from vectorops.db.sql_files import sql_text
from vectorops.maintenance.planner import Action


def table_activity(conn: psycopg.Connection, schema: str, table: str) -> tuple[int | None, int | None, int, int]:
    """``(table bytes, index bytes, changes, dead tuples)`` of a table now.

    Sizes are ``None`` when the table is gone, or locked beyond the session's ``lock_timeout`` (reading a size
    takes a share lock); the action that follows then records the lock error itself.
    """
    try:
        row = conn.execute(sql_text("maintenance/select_table_activity"),
                           {"table": sql.Identifier(schema, table).as_string(conn)}).fetchone()
    except psycopg.errors.LockNotAvailable:
        return None, None, 0, 0
    if row is None:
        return None, None, 0, 0
    return row[0], row[1], int(row[2] or 0), int(row[3] or 0)


def start_action(conn: psycopg.Connection, action: Action, run_id: str | None, sizes: tuple[int | None, int | None],
                 details: dict[str, Any]) -> int:
    """Record that ``action`` starts; returns its ``log_id``."""
    row = conn.execute(sql_text("maintenance/insert_maintenance_log"), {
        "run_id": run_id, "schema": action.schema, "table": action.table, "index": action.index,
        "kind": action.kind, "reason": action.reason, "table_bytes": sizes[0], "index_bytes": sizes[1],
        "details": Jsonb(details)}).fetchone()
    assert row is not None
    return int(row[0])


def finish_action(conn: psycopg.Connection, log_id: int, *, status: str, seconds: float,
                  sizes: tuple[int | None, int | None], details: dict[str, Any], error: str | None) -> None:
    """Record how the action ended: ``done`` or ``failed``, with the sizes after it."""
    conn.execute(sql_text("maintenance/update_maintenance_log"), {
        "log_id": log_id, "status": status, "seconds": seconds, "table_bytes": sizes[0], "index_bytes": sizes[1],
        "details": Jsonb(details), "error": error})


def record_index_build(conn: psycopg.Connection, *, schema: str, table: str, index: str | None, rows: int,
                       changes: int, dead: int) -> None:
    """Make the table's current rows, change counter and dead tuples the baseline of its vector index."""
    conn.execute(sql_text("maintenance/record_index_build"),
                 {"schema": schema, "table": table, "index": index, "rows": rows, "changes": changes, "dead": dead})


def set_change_baseline(conn: psycopg.Connection, *, schema: str, table: str, index: str | None, built_rows: int | None,
                        changes: int, dead: int) -> None:
    """Measure churn and dead tuples from now on (first look after a build, or after a statistics reset)."""
    conn.execute(sql_text("maintenance/upsert_change_baseline"),
                 (schema, table, index, built_rows, changes, dead))


def session_identity(conn: psycopg.Connection) -> dict[str, Any]:
    """``backend_pid`` and ``backend_start`` of this session: a ``running`` row whose session is gone is abandoned."""
    row = conn.execute("SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()").fetchone()
    return {"backend_pid": row[0], "backend_start": row[1]} if row else {}


def close_abandoned(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[int, str, str, Any]]:
    """Mark ``failed`` the actions on ``schema.table`` still ``running`` in a session that no longer exists.

    :return: ``(log_id, action, index or table, started_at)`` of each row closed.
    """
    return [tuple(r) for r in conn.execute(sql_text("maintenance/close_abandoned_actions"),
                                           {"schema": schema, "table": table}).fetchall()]
