"""A consistent snapshot: ``pg_dump -Fc`` and the manifest's checks read the same exported snapshot.

The checks run in a REPEATABLE READ, read-only transaction that exports its snapshot; ``pg_dump --snapshot``
imports it, and the transaction stays open until the dump has finished. So the counts, checksums and top-10
ids in the manifest describe exactly the rows in the dump, whatever is written meanwhile.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from vectorops.backup import pg_tools
from vectorops.backup.manifest import DUMP, Manifest, TableCheck
from vectorops.db.connect import connect
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text, statement
from vectorops.quality import exact_search, parity

log = logging.getLogger(__name__)

PLATFORM_SCHEMA = "vectorops"
LEDGER_TABLE = "backups"
TOP_K = 10
LOCK_WAIT_S = 60  # pg_dump and the checks give up rather than queue behind a DDL's exclusive lock
STATEMENT_TIMEOUT_S = 7200


def fixed_query(conn: psycopg.Connection, schema: str, table: str) -> tuple[str, list[float]] | None:
    """The table's fixed query: the embedding of its smallest id (bytewise) that has one.

    :param conn: a connection in the snapshot's transaction.
    :param schema: the table's schema.
    :param table: the table.
    :return: that id and embedding, or ``None`` when no row has an embedding.
    """
    row = conn.execute(statement("backup/select_first_embedding", table=sql.Identifier(schema, table))).fetchone()
    return (row[0], [float(x) for x in json.loads(row[1])]) if row else None


def top10(conn: psycopg.Connection, check: TableCheck) -> list[str]:
    """The exact top-10 ids of ``check``'s fixed query in the table ``conn`` sees.

    :param conn: a connection to the database holding the table.
    :param check: a vector table's check with its query vector.
    """
    if check.query_vector is None or check.distance is None:
        return []
    return exact_search.exact_top_k(conn, check.schema, check.table, check.distance,
                                    np.asarray(check.query_vector, dtype=np.float64), k=TOP_K)


def table_check(conn: psycopg.Connection, schema: str, table: str, collection: str | None,
                distance: str | None) -> TableCheck:
    """The checks of one table: count; and checksum and fixed top-10 when it is a vector table.

    :param conn: a connection to the database (in the snapshot's transaction while backing up).
    :param schema: the table's schema.
    :param table: the table.
    :param collection: its registry collection, ``None`` for other tables.
    :param distance: its registry space.
    """
    if collection is None:
        rows = one_value(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))))
        return TableCheck(schema, table, int(rows))
    sha256, rows = parity.table_checksum(conn, schema, table)
    query = fixed_query(conn, schema, table)
    check = TableCheck(schema, table, rows, sha256, collection, distance, query[0] if query else None,
                       query[1] if query else None)
    return replace(check, top10=top10(conn, check))


def take_snapshot(dsn: str, directory: Path, backup_id: str) -> Manifest:
    """Dump the registry's schemas and ``vectorops`` into ``directory/vectors.dump`` and check them, consistently.

    :param dsn: the vectors database.
    :param directory: the backup directory (it exists).
    :param backup_id: the backup's id, for the manifest and messages.
    :return: the manifest without its ``files``.
    :raises pg_tools.PgToolError: when pg_dump fails, naming the dump file.
    """
    dump = directory / DUMP
    with connect(dsn, application_name="vectorops-backup", lock_timeout_ms=LOCK_WAIT_S * 1000,
                    statement_timeout_s=STATEMENT_TIMEOUT_S) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        # where the WAL stood when the snapshot was taken: the recovery drill recovers to it (backup/pitr/drill)
        row = conn.execute(sql_text("backup/select_snapshot_position")).fetchone()
        assert row is not None  # one row, always
        snapshot, wal_lsn, snapshot_xids = row
        created_at = datetime.now(UTC).isoformat()
        server_version = one_value(conn.execute("SHOW server_version"))
        registry = conn.execute(sql_text("backup/select_registry_tables")).fetchall()
        missing = [f"{schema}.{table} ({collection})" for schema, table, collection, present, _ours in registry
                   if not present]
        for name in missing:
            log.warning("backup %s: registry table %s does not exist; it is not in the backup", backup_id, name)
        # a schema vectorops did not create (registered by an older version) would put someone else's tables in
        # the backup, and under a restore --clean: its vector tables are left out, and said so
        foreign = [f"{schema}.{table} ({collection})" for schema, table, collection, present, ours in registry
                   if present and not ours]
        for name in foreign:
            log.warning("backup %s: registry table %s is in a schema vectorops did not create; it is not in the "
                        "backup: migrate the collection into a schema vectorops creates (previous_table='drop')",
                        backup_id, name)
        missing += [f"{name}: in a schema vectorops did not create" for name in foreign]
        schemas = sorted({schema for schema, _, _, present, ours in registry if present and ours}
                         | {PLATFORM_SCHEMA})
        args = ["--format=custom", f"--snapshot={snapshot}", "--strict-names", f"--lock-wait-timeout={LOCK_WAIT_S}s",
                *[f"--schema={pg_tools.name_pattern(s)}" for s in schemas],
                f"--exclude-table-data={pg_tools.name_pattern(PLATFORM_SCHEMA, LEDGER_TABLE)}", f"--file={dump}"]
        log.info("backup %s: pg_dump of schemas %s at snapshot %s into %s", backup_id, ", ".join(schemas),
                 snapshot, dump)
        proc = pg_tools.run_tool("pg_dump", args, dsn, what=str(dump))
        try:
            listed = conn.execute(sql_text("backup/select_dumped_tables"), {"schemas": schemas}).fetchall()
            tables = [table_check(conn, *row) for row in listed]
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        pg_tools.wait_tool(proc, "pg_dump", what=str(dump), dsn=dsn)
        conn.rollback()  # read-only; ends the snapshot only now that pg_dump is done with it
    log.info("backup %s: %s table(s) checked, %s vector rows", backup_id, len(tables),
             sum(t.rows for t in tables if t.sha256))
    return Manifest(backup_id=backup_id, created_at=created_at, database=pg_tools.database_name(dsn),
                    server_version=str(server_version), schemas=schemas, snapshot=str(snapshot), tables=tables,
                    missing_tables=missing, wal_lsn=wal_lsn, snapshot_xids=snapshot_xids)
