"""Promotion: one transaction swaps shadow → live, keeps live as ``<name>__prev`` and updates the registry."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from vectorops import failpoints
from vectorops.db import ownership
from vectorops.db.sql_files import sql_text, statement
from vectorops.errors import TargetRefused
from vectorops.migration import ledger
from vectorops.migration.summary import registry_warnings
from vectorops.naming import INDEX_SUFFIXES, previous_name


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (sql.Identifier(schema, name).as_string(conn),)
                       ).fetchone()
    return bool(row and row[0])


def _rename(conn: psycopg.Connection, schema: str, old: str, new: str) -> None:
    """Rename a table vectorops created, and those of its indexes that carry its name (``_pkey``, ``_hnsw``,
    ``_ivf``)."""
    conn.execute(statement("promote/rename_table", old=sql.Identifier(schema, old), new=sql.Identifier(new)))
    ownership.renamed_table(conn, schema, old, new)
    for suffix in INDEX_SUFFIXES:
        # only this table's own index: an index of that name on another table is not ours to rename
        owned = conn.execute(sql_text("promote/select_index_of_table"),
                             (sql.Identifier(schema, old + suffix).as_string(conn),
                              sql.Identifier(schema, new).as_string(conn))).fetchone()
        if owned:
            conn.execute(statement("promote/rename_index", old=sql.Identifier(schema, old + suffix),
                                      new=sql.Identifier(new + suffix)))


def _identity_elsewhere(conn: psycopg.Connection, registry: dict[str, Any]) -> list[tuple[str, str]]:
    """``(table_schema, table_name)`` of the registry rows of the same source collection in other schemas."""
    return [(str(r[0]), str(r[1])) for r in conn.execute(
        sql_text("registry/select_tables_elsewhere"),
        registry)]


def _retire(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Drop a table the promoted one replaces in another schema (``previous_table='drop'``), with its
    ``__prev`` and its registry and index-health rows."""
    for name in (table, previous_name(table)):
        ownership.drop_table(conn, schema, name)
    conn.execute("DELETE FROM vectorops.collection_registry WHERE table_schema = %s AND table_name = %s",
                 (schema, table))
    conn.execute("DELETE FROM vectorops.index_health WHERE table_schema = %s AND table_name = %s", (schema, table))


def promote(conn: psycopg.Connection, *, collection: str, schema: str, table: str, shadow: str, attempt_id: str,
            registry: dict[str, Any], previous_table: str = "refuse") -> None:
    """Swap the shadow table in, atomically, and record the result.

    Only tables vectorops created are renamed or dropped: a live table or ``__prev`` of another origin stops the
    promotion (:class:`ownership.NotCreatedByVectorops`) and nothing changes.

    :param registry: the ``collection_registry`` row (see ``vectorops/sql/promote/upsert_registry.sql``).
    :param previous_table: what happens to the collection's table in another schema: ``refuse`` (stop),
        ``keep`` (stays registered under its own key), ``drop``.
    :raises TargetRefused: when the collection lives in another schema and ``previous_table`` is ``refuse``.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops:claim:' || %s, 0))", (collection,))
        conn.execute("SET LOCAL lock_timeout = '30s'")
        elsewhere = _identity_elsewhere(conn, registry)
        here = conn.execute(sql_text("registry/select_key_in_schema"),
                            (registry["collection_key"], schema)).fetchone()
        if elsewhere and previous_table == "refuse" and here is None:
            tables = ", ".join(f"{s}.{t}" for s, t in elsewhere)
            raise TargetRefused(f"collection {registry['collection']!r} of {registry['source_uri']} was migrated to "
                                f"{tables} meanwhile; not promoted: set previous_table to 'keep' or 'drop'")
        if previous_table == "drop":
            for old_schema, old_table in elsewhere:
                _retire(conn, old_schema, old_table)
        prev = previous_name(table)
        ownership.drop_table(conn, schema, prev)
        if _exists(conn, schema, table):
            ownership.require_absent_or_ours(conn, schema, table)
            _rename(conn, schema, table, prev)
        ownership.require_absent_or_ours(conn, schema, shadow)
        _rename(conn, schema, shadow, table)
        failpoints.hit("promote")
        conn.execute(sql_text("promote/upsert_registry"), registry)
        conn.execute(sql_text("promote/reset_index_health"), registry)
        ledger.mark_promoted(conn, collection, attempt_id, registry.get("rows_per_s"), registry.get("changes_behind"))


def promoted_warnings(conn: psycopg.Connection, run_id: str) -> dict[str, list[str]]:
    """The warnings of the tables ``run_id`` promoted, by collection key: an HNSW index built with other settings
    than its source's (:func:`vectorops.migration.summary.registry_warnings`); a table without any is left out.

    :param conn: a connection to the vectors database.
    :param run_id: the run.
    """
    found = {}
    for key, *settings in conn.execute(sql_text("promote/select_promoted_hnsw"), (run_id,)):
        warnings = registry_warnings(*settings)
        if warnings:
            found[str(key)] = warnings
    return found
