"""Compare a restored database with a backup's manifest: counts, checksums and the fixed top-10 queries."""

from __future__ import annotations

from typing import Any

import psycopg

from vectorops.backup.manifest import Manifest, TableCheck
from vectorops.backup.snapshot import table_check, top10
from vectorops.db.sql_files import sql_text
from vectorops.quality import parity


def _exists(conn: psycopg.Connection, check: TableCheck) -> bool:
    # any relation of that name, as ownership.relation_kind looks for it (types aside)
    row = conn.execute(sql_text("ownership/select_relation_kind"), (check.schema, check.table)).fetchone()
    return row is not None


def compare_table(conn: psycopg.Connection, check: TableCheck) -> list[dict[str, Any]]:
    """The failed expectations of one restored table against its manifest entry (empty when it matches).

    :param conn: a connection to the restored database.
    :param check: the table's entry in the manifest.
    """
    if not _exists(conn, check):
        return [{"expectation": "table_restored", "observed": {"table": check.name}}]
    failures: list[dict[str, Any]] = []
    if check.sha256 is None:
        rows = table_check(conn, check.schema, check.table, None, None).rows
        sha256 = None
    else:
        sha256, rows = parity.table_checksum(conn, check.schema, check.table)
    if rows != check.rows:
        failures.append({"expectation": "row_count_matches",
                         "observed": {"table": check.name, "manifest": check.rows, "restored": rows}})
    if check.sha256 is not None and sha256 != check.sha256:
        failures.append({"expectation": "checksum_matches",
                         "observed": {"table": check.name, "manifest": check.sha256, "restored": sha256}})
    if check.sha256 is not None:
        restored_top10 = top10(conn, check)
        if restored_top10 != (check.top10 or []):
            failures.append({"expectation": "top10_matches",
                             "observed": {"table": check.name, "query_id": check.query_id,
                                          "manifest": check.top10, "restored": restored_top10}})
    return failures


def compare_database(conn: psycopg.Connection, manifest: Manifest) -> list[dict[str, Any]]:
    """The failed expectations of a restored database against ``manifest``, over every table it lists.

    :param conn: a connection to the restored database (autocommit).
    :param manifest: the backup's manifest.
    """
    failures: list[dict[str, Any]] = []
    for check in manifest.tables:
        failures += compare_table(conn, check)
    return failures
