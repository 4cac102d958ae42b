"""Index builds in progress while the monitor measures: a measurement taken beside one is recorded as such and not
judged against the thresholds, since a build's CPU, memory and I/O inflate the probes' latencies."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from vectorops.db.sql_files import sql_text


def index_builds(conn: psycopg.Connection, table: str) -> list[dict[str, Any]]:
    """The index builds running on the server now (``pg_stat_progress_create_index``), by pid.

    :param conn: a connection to the vectors database.
    :param table: the probed table, quoted (``schema."table"``), to say which builds are on it.
    :return: ``{"pid", "database", "command", "phase", "table_name", "index_name", "on_this_table"}`` per build; the
        relation, command and phase are ``None`` for another role's build unless the role may read all statistics.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql_text("monitor/select_index_builds"), {"table": table}))


def merge(*seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The builds of several looks, each pid once (the latest look's row).

    :param seen: the results of :func:`index_builds` before and after the measurement.
    """
    builds: dict[int, dict[str, Any]] = {}
    for look in seen:
        builds.update({int(b["pid"]): b for b in look})
    return [builds[pid] for pid in sorted(builds)]


def describe(builds: list[dict[str, Any]]) -> str:
    """One phrase naming the builds, e.g. ``REINDEX CONCURRENTLY of vectors.docs_hnsw (pid 4242)``.

    :param builds: from :func:`merge`.
    """
    parts = []
    for b in builds:
        what = b["command"] or "an index build"
        where = b["index_name"] or b["table_name"]
        where = f" of {where}" if where else f" in database {b['database']}" if b["database"] else ""
        parts.append(f"{what}{where} (pid {b['pid']})")
    return ", ".join(parts)
