"""Verify a backup: sha256 of every file first, then a restore into a scratch database that is always dropped."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vectorops import db
from vectorops.backup import pg_tools
from vectorops.backup.chroma_archive import archive_problem
from vectorops.backup.compare import compare_database
from vectorops.backup.manifest import CHROMA, DUMP, Manifest, read_manifest, sha256_file

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "vectorops_verify_"


@dataclass
class VerificationReport:
    """The outcome of checking one backup (files, restore, comparison).

    :param backup_id: the backup.
    :param path: its directory.
    :param failures: ``{"expectation", "observed"}`` per failed check, as alerts carry them.
    :param tables: tables compared.
    :param rows: vector rows in the manifest.
    :param seconds: how long it took.
    :param database: the database restored into, when it got that far.
    """

    backup_id: str
    path: Path
    failures: list[dict[str, Any]] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    database: str | None = None

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return not self.failures

    def describe(self) -> str:
        """One line for logs, messages and alerts."""
        if self.ok:
            return (f"backup {self.backup_id} ({self.path}) verified: {self.tables} table(s), {self.rows} vector rows "
                    f"match the manifest in {self.seconds:.1f}s")
        details = "; ".join(f"{f['expectation']}: {json.dumps(f['observed'], default=str)[:500]}"
                            for f in self.failures[:10])
        return f"backup {self.backup_id} ({self.path}) failed verification ({len(self.failures)} check(s)): {details}"


def check_files(manifest_path: Path, manifest: Manifest, expected_manifest_sha256: str | None) -> list[dict[str, Any]]:
    """The failed expectations of the backup's files: manifest hash, presence, size and sha256, Chroma archive.

    :param manifest_path: the backup's ``manifest.json``.
    :param manifest: its content.
    :param expected_manifest_sha256: the manifest's sha256 as recorded in ``vectorops.backups``, if known.
    """
    failures: list[dict[str, Any]] = []
    if expected_manifest_sha256 is not None and sha256_file(manifest_path) != expected_manifest_sha256:
        failures.append({"expectation": "file_sha256_matches", "observed": {
            "file": str(manifest_path), "recorded": expected_manifest_sha256, "actual": sha256_file(manifest_path)}})
    if DUMP not in manifest.files:
        failures.append({"expectation": "file_listed", "observed": {"file": DUMP, "manifest": str(manifest_path)}})
    for entry in manifest.files.values():
        path = manifest_path.parent / entry.name
        if not path.is_file():
            failures.append({"expectation": "file_present", "observed": {"file": str(path)}})
            continue
        actual = sha256_file(path)
        if actual != entry.sha256 or path.stat().st_size != entry.bytes:
            failures.append({"expectation": "file_sha256_matches", "observed": {
                "file": str(path), "manifest": entry.sha256, "actual": actual,
                "manifest_bytes": entry.bytes, "actual_bytes": path.stat().st_size}})
        elif entry.name == CHROMA and (problem := archive_problem(path)):
            failures.append({"expectation": "chroma_archive_lists_sqlite", "observed": problem})
    return failures


def restore_and_compare(dsn: str, target: str, manifest_path: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """Restore the backup's dump into the database ``target`` (it exists) and compare it with the manifest.

    :param dsn: a DSN of the same server; only its database is replaced by ``target``.
    :param target: the database to restore into.
    :param manifest_path: the backup's manifest.
    :param manifest: its content.
    :return: the failed expectations; a failed ``pg_restore`` is one of them.
    """
    target_dsn = pg_tools.dsn_for_database(dsn, target)
    with db.connect(target_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        pg_tools.restore_dump(manifest_path.parent / DUMP, target_dsn)
    except pg_tools.PgToolError as exc:
        return [{"expectation": "restore_succeeded",
                 "observed": {"error": exc.stderr[:2000] or str(exc), "dump": str(manifest_path.parent / DUMP)}}]
    with db.connect(target_dsn, autocommit=True) as conn:
        return compare_database(conn, manifest)


def drop_abandoned_scratch_databases(admin: psycopg.Connection) -> list[str]:
    """Drop the scratch databases of verifications that were killed before their own cleanup.

    Only databases nobody is connected to are dropped, and without ``FORCE``: one that a running verification
    connects to meanwhile stays (the drop fails and is logged).

    :param admin: an autocommit connection to the server.
    :return: the databases dropped.
    """
    dropped = []
    for (name,) in admin.execute(db.sql_text("backup/select_abandoned_scratch_databases"),
                                 {"prefix": SCRATCH_PREFIX.replace("_", r"\_") + "%"}).fetchall():
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        except psycopg.errors.ObjectInUse:
            log.info("scratch database %s came into use; left alone", name)
            continue
        log.warning("dropped scratch database %s, left by a verification that was interrupted", name)
        dropped.append(name)
    return dropped


def verify_backup(dsn: str, manifest_path: Path, *, expected_manifest_sha256: str | None = None,
                  backup_id: str | None = None) -> VerificationReport:
    """Verify a backup end to end; the scratch database is dropped whatever happens.

    :param dsn: a DSN of the server to restore on (the scratch database is created there).
    :param manifest_path: the backup's ``manifest.json``.
    :param expected_manifest_sha256: the manifest's recorded sha256, if known.
    :param backup_id: the backup's id (default: from the manifest, else the directory name).
    :return: the report; problems with the backup are failures in it, not exceptions.
    """
    started = time.perf_counter()
    report = VerificationReport(backup_id or manifest_path.parent.name, manifest_path.parent)
    try:
        manifest = read_manifest(manifest_path)
    except ValueError as exc:
        report.failures.append({"expectation": "manifest_readable", "observed": str(exc)})
        report.seconds = time.perf_counter() - started
        return report
    report.backup_id, report.tables, report.rows = manifest.backup_id, len(manifest.tables), manifest.total_rows
    report.failures = check_files(manifest_path, manifest, expected_manifest_sha256)
    if report.failures:  # a damaged file is not restored
        report.seconds = time.perf_counter() - started
        return report
    scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:16]}"
    report.database = scratch
    with db.connect(dsn, autocommit=True, application_name="vectorops-backup-verify") as admin:
        drop_abandoned_scratch_databases(admin)
        # vectorops_maint may not create the (untrusted) vector extension: it clones the template that has it
        template = admin.execute("SELECT coalesce(max(datname), 'template0') FROM pg_database "
                                 "WHERE datname = 'vectorops_restore_template' AND datistemplate").fetchone()[0]
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(scratch),
                                                                        sql.Identifier(template)))
        try:
            report.failures = restore_and_compare(dsn, scratch, manifest_path, manifest)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    report.seconds = time.perf_counter() - started
    log.info("%s", report.describe())
    return report
