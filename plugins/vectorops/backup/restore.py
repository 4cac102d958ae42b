"""Restore a backup into a target database and verify it against the manifest.

Existing schemas of the backup are never overwritten unless asked (``clean``). Then they are renamed aside in
one transaction, the dump is restored in a single transaction, and only after it succeeds are the old schemas
dropped; when it fails they are renamed back. The rows of ``vectorops.backups`` (not part of any dump) are
carried over from the old ``vectorops`` schema.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vectorops import db
from vectorops.backup import pg_tools
from vectorops.backup.compare import compare_database
from vectorops.backup.manifest import DUMP, read_manifest, resolve_manifest
from vectorops.backup.take import BackupError
from vectorops.backup.verify import check_files

log = logging.getLogger(__name__)


@dataclass
class RestoreReport:
    """The outcome of a restore.

    :param backup_id: the backup restored.
    :param manifest_path: its manifest.
    :param target: the target, redacted.
    :param replaced: schemas that existed and were replaced.
    :param failures: failed comparisons with the manifest.
    :param tables: tables compared.
    :param rows: vector rows in the manifest.
    :param seconds: how long it took.
    """

    backup_id: str
    manifest_path: Path
    target: str
    replaced: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """The restored database matches the manifest."""
        return not self.failures


def existing_schemas(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Which of ``schemas`` exist in the database of ``conn``.

    :param conn: a connection to the target.
    :param schemas: the backup's schemas.
    """
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY 1", (schemas,))
    return [r[0] for r in rows]


def _rename(conn: psycopg.Connection, names: dict[str, str]) -> None:
    with conn.transaction():
        for old, new in names.items():
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))


def _carry_over_ledger(conn: psycopg.Connection, aside: str) -> None:
    """Copy ``vectorops.backups`` rows from the renamed-aside platform schema into the restored one."""
    columns = [r[0] for r in conn.execute(
        """SELECT a.column_name FROM information_schema.columns a JOIN information_schema.columns b
             ON b.table_schema = 'vectorops' AND b.table_name = 'backups' AND b.column_name = a.column_name
           WHERE a.table_schema = %s AND a.table_name = 'backups' ORDER BY a.ordinal_position""", (aside,))]
    if not columns:
        return
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(sql.SQL("INSERT INTO vectorops.backups ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
        names, names, sql.Identifier(aside, "backups")))


def restore_backup(backup: Path, dsn: str, *, clean: bool = False) -> RestoreReport:
    """Restore the backup named by ``backup`` (directory, manifest or dump) into ``dsn`` and compare.

    :param backup: the backup directory, its ``manifest.json`` or its ``vectors.dump``.
    :param dsn: the target database (it exists; the ``vector`` extension is created when missing).
    :param clean: replace schemas of the backup that already exist in the target.
    :raises ValueError: when the target already has the backup's schemas and ``clean`` is not set, or when
        ``backup`` names no backup.
    :raises BackupError: when the backup's files do not match its manifest or pg_restore fails.
    """
    started = time.perf_counter()
    manifest_path = resolve_manifest(backup)
    manifest = read_manifest(manifest_path)
    report = RestoreReport(manifest.backup_id, manifest_path, pg_tools.redacted_dsn(dsn),
                           tables=len(manifest.tables), rows=manifest.total_rows)
    damaged = check_files(manifest_path, manifest, None)
    if damaged:
        raise BackupError(f"backup {manifest.backup_id} ({manifest_path.parent}) does not match its manifest; "
                          f"not restored: {damaged}")
    with db.connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        present = existing_schemas(conn, manifest.schemas)
        if present and not clean:
            raise ValueError(
                f"target database {pg_tools.database_name(dsn)} already has schema(s) {', '.join(present)} of "
                f"backup {manifest.backup_id}; restore into a fresh database, or pass --clean to replace them")
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        token = secrets.token_hex(3)
        aside = {name: f"{name[:40]}__pre_restore_{token}" for name in present}
        _rename(conn, aside)
        try:
            pg_tools.restore_dump(manifest_path.parent / DUMP, dsn)
        except Exception as exc:
            _rename(conn, {new: old for old, new in aside.items()})
            raise BackupError(f"restore of backup {manifest.backup_id} ({manifest_path.parent / DUMP}) into "
                              f"{report.target} failed; the target is unchanged: {exc}") from exc
        with conn.transaction():
            if "vectorops" in aside:
                _carry_over_ledger(conn, aside["vectorops"])
            for name in aside.values():
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        report.replaced = present
        report.failures = compare_database(conn, manifest)
    report.seconds = time.perf_counter() - started
    log.info("restore of backup %s into %s: %s", manifest.backup_id, report.target,
             "matches the manifest" if report.ok else f"{len(report.failures)} mismatch(es)")
    return report
