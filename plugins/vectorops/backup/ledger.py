"""The rows of ``vectorops.backups``: one per backup, from ``running`` to ``verified``, ``failed`` or ``expired``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from vectorops.backup.manifest import CHROMA, DUMP, Manifest
from vectorops.db.connect import connect
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text, statement


@dataclass(frozen=True)
class BackupRow:
    """One row of ``vectorops.backups``."""

    backup_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    path: str
    dump_bytes: int | None
    dump_sha256: str | None
    chroma_bytes: int | None
    chroma_sha256: str | None
    manifest_sha256: str | None
    tables: int | None
    total_rows: int | None
    verified_at: datetime | None
    verify_seconds: float | None
    error: str | None
    details: dict[str, Any] | None


_COLUMNS = sql.SQL(", ").join(sql.Identifier(f.name) for f in fields(BackupRow))


def _one(dsn: str, query: sql.Composed, params: tuple[Any, ...]) -> BackupRow | None:
    with connect(dsn, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, params).fetchone()
    return BackupRow(**row) if row else None


def insert_running(dsn: str, backup_id: str, path: str, run_id: str | None) -> None:
    """Record a backup that has started.

    :param dsn: the vectors database.
    :param backup_id: the new backup's id.
    :param path: its directory.
    :param run_id: the Airflow run (or CLI run) that takes it.
    """
    with connect(dsn, autocommit=True) as conn:
        conn.execute(sql_text("backup/insert_backup"), (backup_id, path, Jsonb({"run_id": run_id})))


def record_files(dsn: str, manifest: Manifest, manifest_sha256: str) -> None:
    """Record a taken backup's files and what it holds; its status becomes ``verifying``.

    :param dsn: the vectors database.
    :param manifest: the backup's manifest.
    :param manifest_sha256: sha256 of its ``manifest.json``.
    """
    dump, chroma = manifest.files.get(DUMP), manifest.files.get(CHROMA)
    details = {"schemas": manifest.schemas, "snapshot": manifest.snapshot, "missing_tables": manifest.missing_tables,
               "server_version": manifest.server_version}
    with connect(dsn, autocommit=True) as conn:
        conn.execute(sql_text("backup/update_backup_files"),
                     (dump.bytes if dump else None, dump.sha256 if dump else None, chroma.bytes if chroma else None,
                      chroma.sha256 if chroma else None, manifest_sha256, len(manifest.vector_tables),
                      manifest.total_rows, Jsonb(details), manifest.backup_id))


def set_status(dsn: str, backup_id: str, status: str, *, error: str | None = None,
               details: dict[str, Any] | None = None, verify_seconds: float | None = None) -> None:
    """Move a backup to ``status``; ``verified`` stamps ``verified_at`` and clears ``error``, and only a verified
    backup that expires keeps its ``verified_at``.

    :param dsn: the vectors database.
    :param backup_id: the backup.
    :param status: ``verifying`` | ``verified`` | ``failed`` | ``expired``.
    :param error: why it failed (kept when ``None``).
    :param details: merged into its ``details``.
    :param verify_seconds: how long its verification took.
    :raises ValueError: when there is no such backup.
    """
    with connect(dsn, autocommit=True) as conn:
        updated = conn.execute(
            sql_text("backup/update_backup_status"),
            {"status": status, "error": error, "details": Jsonb(details or {}), "seconds": verify_seconds,
             "backup_id": backup_id}).rowcount
    if not updated:
        raise ValueError(f"backup {backup_id!r} is not in vectorops.backups")


def get(dsn: str, backup_id: str) -> BackupRow:
    """The row of one backup.

    :param dsn: the vectors database.
    :param backup_id: the backup.
    :raises ValueError: when there is no such backup.
    """
    row = _one(dsn, sql.SQL("SELECT {} FROM vectorops.backups WHERE backup_id = %s").format(_COLUMNS), (backup_id,))
    if row is None:
        raise ValueError(f"backup {backup_id!r} is not in vectorops.backups")
    return row


def newest_verified(dsn: str) -> BackupRow | None:
    """The verified backup taken last, or ``None``.

    :param dsn: the vectors database.
    """
    return _one(dsn, statement("backup/select_newest_verified_backup", columns=_COLUMNS), ())


def list_backups(dsn: str, statuses: tuple[str, ...] | None = None, limit: int | None = None) -> list[BackupRow]:
    """Backups, newest first.

    :param dsn: the vectors database.
    :param statuses: only these statuses, when given.
    :param limit: at most this many.
    """
    with connect(dsn, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(statement("backup/select_backups", columns=_COLUMNS),
                           {"statuses": list(statuses) if statuses else None, "limit": limit}).fetchall()
    return [BackupRow(**row) for row in rows]


_OWNER_KEY = "SELECT hashtextextended('vectorops:backup:' || %s, 0)"
_LOCK_OWNER = "SELECT pg_advisory_lock(hashtextextended('vectorops:backup:' || %s, 0))"
INTERRUPTED = "interrupted: the process {doing} it ended before it finished; never verified"


@contextmanager
def owned(dsn: str, backup_id: str) -> Iterator[None]:
    """Hold the backup's owner lock for the block: while it is held, its ``running``/``verifying`` row is at work.

    :param dsn: the vectors database.
    :param backup_id: the backup being taken or verified.
    """
    with connect(dsn, autocommit=True, application_name="vectorops-backup-owner") as conn:
        conn.execute(_LOCK_OWNER, (backup_id,))
        yield


def close_interrupted(dsn: str) -> list[str]:
    """Mark ``failed`` every backup whose taking (``running``) or verification (``verifying`` after it started)
    was killed: nobody holds its owner lock any more.

    :param dsn: the vectors database.
    :return: the backups closed.
    """
    closed = []
    with connect(dsn, autocommit=True) as conn:
        candidates = conn.execute(sql_text("backup/select_unfinished_backups")).fetchall()
        for backup_id, status in candidates:
            key = one_value(conn.execute(_OWNER_KEY, (backup_id,)))
            if not one_value(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))):
                continue  # its owner is alive
            try:
                doing = "taking" if status == "running" else "verifying"
                if conn.execute(sql_text("backup/update_backup_interrupted"),
                                (INTERRUPTED.format(doing=doing), backup_id, status)).rowcount:
                    closed.append(backup_id)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return closed
