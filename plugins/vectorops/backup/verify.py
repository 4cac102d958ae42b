"""Verify a backup: its signature and the sha256 of every file first, then a restore on a scratch server.

The restore runs off the production server: on a fresh scratch server of this machine
(:mod:`vectorops.backup.restore_server`), always stopped and removed, so that replaying every table and rebuilding
every HNSW index costs the production server nothing. The dump is replayed there by ``vectorops_restore``, which
logs in itself (a dump cannot ``RESET ROLE`` back to the caller): whatever the dump runs, it runs without privilege.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from vectorops.backup import pg_tools
from vectorops.backup.chroma_archive import archive_problem
from vectorops.backup.compare import compare_database
from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import CHROMA, DUMP, MANIFEST, Manifest, read_manifest, sha256_file
from vectorops.backup.restore_server import restore_server
from vectorops.backup.signing import SIGNATURE, load_key, sign_manifest, signature_problem
from vectorops.config import Settings, load_settings
from vectorops.db.connect import connect
from vectorops.db.sql_files import sql_text

log = logging.getLogger(__name__)

PLATFORM_SCHEMA = "vectorops"


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
    :param port: the port on 127.0.0.1 of the scratch server it was restored on, when it got that far: every
        query of the restore and the comparison ran there.
    """

    backup_id: str
    path: Path
    failures: list[dict[str, Any]] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    database: str | None = None
    port: int | None = None

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return not self.failures

    def describe(self) -> str:
        """One line for logs, messages and alerts."""
        if self.ok:
            return (f"backup {self.backup_id} ({self.path}) verified: {self.tables} table(s), {self.rows} vector rows "
                    f"match the manifest in {self.seconds:.1f}s (restored on a scratch server, 127.0.0.1:{self.port})")
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


def authenticity_failures(manifest_path: Path, manifest: Manifest, home: Path) -> list[dict[str, Any]]:
    """The failed expectations of the manifest's signature and its schemas (empty when it is authentic).

    :param manifest_path: the backup's ``manifest.json``.
    :param manifest: its content.
    :param home: ``VECTOROPS_HOME``, which holds the signing key.
    """
    failures = [problem] if (problem := signature_problem(manifest_path, home)) else []
    unsafe = [name for name in manifest.schemas
              if not name or name in ("public", "information_schema") or name.startswith("pg_")]
    if unsafe:
        failures.append({"expectation": "schemas_restorable", "observed": {"schemas": unsafe}})
    return failures


def code_failures(conn: psycopg.Connection, schemas: list[str],
                  platform: str = PLATFORM_SCHEMA) -> list[dict[str, Any]]:
    """The code a restored dump carries in ``schemas``: functions, triggers, rules, policies, views, domains,
    operators, casts, event triggers, and expressions (CHECK, defaults, generated columns, index expressions and
    predicates) calling a function outside ``pg_catalog`` and the extension ``vector`` (the halfvec and bit index
    kinds' expressions), one PUBLIC may not execute, or a volatile one other than ``nextval``. The platform's own
    two functions and its registry trigger are allowed (the swap replaces their bodies with the platform's).
    ``vectorops/sql/backup/select_restored_code.sql`` says what is looked at.

    :param conn: a connection to the database restored into.
    :param schemas: the schemas restored (the platform schema may carry a staging name).
    :param platform: the name the platform schema has among them.
    :return: one failed expectation ``dump_carries_no_code`` listing the objects, or nothing.
    """
    rows = conn.execute(sql_text("backup/select_restored_code"),
                        {"schemas": schemas, "platform": platform}).fetchall()
    if not rows:
        return []
    return [{"expectation": "dump_carries_no_code",
             "observed": {"objects": [f"{what} {problem}" for what, problem in rows[:20]], "count": len(rows)}}]


def restore_and_compare(restore_dsn: str, manifest_path: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """Restore the backup's dump into a scratch database as ``vectorops_restore`` and compare it with the manifest.

    :param restore_dsn: the scratch database (:mod:`vectorops.backup.scratch_database`), as ``vectorops_restore``.
    :param manifest_path: the backup's manifest.
    :param manifest: its content.
    :return: the failed expectations; a failed ``pg_restore`` is one of them, and so are schemas the dump created
        that the manifest does not list (or the reverse), and any code the dump carries (:func:`code_failures`:
        then nothing else is compared).
    """
    try:
        pg_tools.restore_dump(manifest_path.parent / DUMP, restore_dsn)
    except pg_tools.PgToolError as exc:
        return [{"expectation": "restore_succeeded",
                 "observed": {"error": exc.stderr[:2000] or str(exc), "dump": str(manifest_path.parent / DUMP)}}]
    with connect(restore_dsn, autocommit=True, application_name="vectorops-restore-compare") as conn:
        restored = sorted(r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspowner = current_user::regrole"))
        failures: list[dict[str, Any]] = []
        if restored != sorted(manifest.schemas):
            failures.append({"expectation": "dump_schemas_match_manifest",
                             "observed": {"manifest": sorted(manifest.schemas), "restored": restored}})
        if code := code_failures(conn, sorted(set(restored) | set(manifest.schemas))):
            return code + failures
        return failures + compare_database(conn, manifest)


def verify_backup(dsn: str, manifest_path: Path, *, expected_manifest_sha256: str | None = None,
                  backup_id: str | None = None, settings: Settings | None = None) -> VerificationReport:
    """Verify a backup end to end on a scratch server; the server is stopped and removed whatever happens.

    The manifest's signature (and its sha256 as recorded in ``vectorops.backups``, when given) is checked first,
    then every file's sha256; only an authentic, intact backup is restored, as ``vectorops_restore``, on a fresh
    scratch server of this machine (:func:`~vectorops.backup.restore_server.restore_server`).

    :param dsn: the vectors database the backup was taken from; not connected to: nothing of the verification
        runs on its server (the caller records the outcome there).
    :param manifest_path: the backup's ``manifest.json``.
    :param expected_manifest_sha256: the manifest's recorded sha256, if known.
    :param backup_id: the backup's id (default: from the manifest, else the directory name).
    :param settings: ``VECTOROPS_HOME`` (signing key; where the scratch server is made); default from the
        environment.
    :return: the report; problems with the backup are failures in it, not exceptions.
    :raises vectorops.db.runtime.RuntimeErrorWithLog: when the scratch server cannot be made or started.
    """
    settings = settings or load_settings()
    started = time.perf_counter()
    report = VerificationReport(backup_id or manifest_path.parent.name, manifest_path.parent)
    try:
        manifest = read_manifest(manifest_path)
    except ValueError as exc:
        report.failures.append({"expectation": "manifest_readable", "observed": str(exc)})
        report.seconds = time.perf_counter() - started
        return report
    report.backup_id, report.tables, report.rows = manifest.backup_id, len(manifest.tables), manifest.total_rows
    report.failures = (authenticity_failures(manifest_path, manifest, settings.home)
                       + check_files(manifest_path, manifest, expected_manifest_sha256))
    if report.failures:  # a forged or damaged backup is not restored
        report.seconds = time.perf_counter() - started
        log.error("%s", report.describe())
        return report
    with restore_server(settings) as server:
        report.database, report.port = pg_tools.database_name(server.restore_dsn), server.port
        report.failures = restore_and_compare(server.restore_dsn, manifest_path, manifest)
    report.seconds = time.perf_counter() - started
    log.info("%s", report.describe())
    return report


def sign_backup(directory: Path, home: Path) -> Path:
    """Sign a backup that has no signature (one taken before backups were signed), which the operator vouches
    for: its files must match its manifest, and the key must exist. It is then restored like any other, as
    ``vectorops_restore``, and refused when its dump carries code (:func:`code_failures`).

    :param directory: the backup's directory.
    :param home: ``VECTOROPS_HOME``, which holds the key.
    :return: the signature's path.
    :raises BackupError: naming the backup when it has no manifest, is signed already, or its files do not match
        its manifest; naming the key when it is missing or not private.
    """
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"backup {directory} has no {MANIFEST}; nothing to sign")
    if manifest_path.with_name(SIGNATURE).exists():
        raise BackupError(f"backup {directory} is signed already ({SIGNATURE}); not signed again")
    key = load_key(home)
    try:
        manifest = read_manifest(manifest_path)
    except ValueError as exc:
        raise BackupError(f"backup {directory} has no readable manifest; not signed: {exc}") from None
    if failures := check_files(manifest_path, manifest, None):
        raise BackupError(f"backup {directory} does not match its manifest; not signed: "
                          f"{json.dumps(failures, default=str)[:400]}")
    signature = sign_manifest(manifest_path, key)
    log.warning("backup %s (%s) signed on the operator's word: it predates signing", manifest.backup_id, directory)
    return signature
