"""Restore a backup into a target database: verified first, swapped into place last, never made worse.

1. The backup must be authentic: its manifest's HMAC checks with the key under ``VECTOROPS_HOME``, and, when the
   vectors database's ``vectorops.backups`` is reachable and records the backup, the manifest's sha256 matches the
   ledger's; every file matches the manifest.
2. The dump is replayed by ``vectorops_restore`` (it logs in itself: no superuser, no CREATEROLE, a member of no
   role) into a scratch database and compared with the manifest there.
   A dump that carries code (functions, triggers, rules, views, policies, expressions calling anything but safe
   builtins: :func:`~vectorops.backup.verify.code_failures`) is refused there.
3. Only then is the target touched: the verified schemas are renamed to staging names in the scratch database,
   dumped, and restored (again as ``vectorops_restore``) into staging schemas of the target, compared and checked
   for code again. Still as ``vectorops_restore``, the rows of the old ``vectorops.backups`` (never part of a dump)
   are copied into the staged ledger and the staged ``vectorops.owned_objects`` is pointed at the staged objects.
4. The swap, in one transaction as the administrative user, does DDL only (with ``search_path`` pinned to
   ``pg_catalog`` and triggers off): it refuses when anything outside the replaced schemas depends on them, drops
   the old schemas (``clean``), renames the staged ones into place, hands their objects (and only theirs) to
   ``vectorops_etl``, puts back the platform's own functions and re-grants the platform's privileges.

A backup refused at any step leaves the target as it was, and alerts (``restore_failed``). While it runs, a restore
holds a session advisory lock on its token; a restore that was killed leaves staging schemas whose lock is free,
and the next restore into that database drops them.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vectorops.backup import ledger, pg_tools
from vectorops.backup.compare import compare_database
from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import Manifest, read_manifest, resolve_manifest, sha256_file
from vectorops.backup.restore_report import (  # RESTORE_FAILED and RESTORE_LOCK: callers import them from here
    LENT_CONNECT,
    PLATFORM_SCHEMA,
    RESTORE_FAILED,
    RESTORE_LOCK,
    RestoreReport,
    refuse,
)
from vectorops.backup.restore_staging import (
    drop_staging,
    prepare_staging,
    stage_in_scratch,
    staged_manifest,
    staging_names,
    sweep_abandoned_staging,
    token_key,
)
from vectorops.backup.restore_swap import existing_schemas, not_ours, outside_dependents, swap, unbacked_schemas
from vectorops.backup.scratch_database import scratch_database
from vectorops.backup.verify import authenticity_failures, check_files, code_failures, restore_and_compare
from vectorops.config import Settings, load_settings
from vectorops.db.connect import connect
from vectorops.db.dsn import RestoreLoginRefused, restore_role_dsn
from vectorops.db.roles import RESTORE
from vectorops.db.rows import one_value

log = logging.getLogger(__name__)









def ledger_failures(ledger_dsn: str | None, manifest_path: Path, backup_id: str) -> list[dict[str, Any]]:
    """The manifest's sha256 against ``vectorops.backups``, when the ledger is reachable and records the backup.

    :param ledger_dsn: the vectors database that took the backup (``None``: not known).
    :param manifest_path: the backup's manifest.
    :param backup_id: its id.
    """
    if ledger_dsn is None:
        return []
    try:
        row = ledger.get(ledger_dsn, backup_id)
    except ValueError:
        log.info("backup %s is not in vectorops.backups; its signature alone vouches for it", backup_id)
        return []
    except psycopg.Error as exc:
        log.info("vectorops.backups is not reachable (%s); the signature of backup %s alone vouches for it",
                 type(exc).__name__, backup_id)
        return []
    actual = sha256_file(manifest_path)
    if row.manifest_sha256 is None or row.manifest_sha256 == actual:
        return []
    return [{"expectation": "manifest_sha256_matches_ledger",
             "observed": {"manifest": str(manifest_path), "recorded": row.manifest_sha256, "actual": actual}}]






























def _into_target(dsn: str, restore_dsn: str, staged_dump: Path, manifest: Manifest, token: str, clean: bool,
                 report: RestoreReport, run_id: str | None) -> None:
    """Restore the staged dump into staging schemas of the target, compare, check, prepare, swap; the staging goes
    on failure. The session holds the token's advisory lock throughout, so that no other restore sweeps it."""
    database = pg_tools.database_name(dsn)
    staging = staging_names(manifest, token)
    with connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        conn.execute("SET search_path = pg_catalog, pg_temp")
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (RESTORE_LOCK, token_key(token)))
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")  # where dumps name it: public.vector
        lent = not one_value(conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')",
                                          (RESTORE,)))
        try:
            with conn.transaction():  # the note says what a sweep must undo when this restore is killed
                if lent:
                    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                                      sql.Identifier(RESTORE)))
                for staged in staging.values():
                    conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(staged),
                                                                                     sql.Identifier(RESTORE)))
                    conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(staged), sql.Literal(
                        f"vectorops restore {token} of backup {manifest.backup_id}" + (f"; {LENT_CONNECT}" if lent
                                                                                        else ""))))
            try:
                target_as_restore = pg_tools.dsn_for_database(restore_dsn, database)
                toc = pg_tools.write_toc_without_schemas(staged_dump, staged_dump.with_suffix(".toc"))
                pg_tools.restore_dump(staged_dump, target_as_restore, use_list=toc)
                with connect(target_as_restore, autocommit=True) as mine:
                    failures = (code_failures(mine, list(staging.values()), staging.get(PLATFORM_SCHEMA, ""))
                                or compare_database(mine, staged_manifest(manifest, staging)))
                    if failures:
                        refuse(report, "differs from its manifest once restored into the target", failures, run_id)
                    prepare_staging(conn, mine, staging, clean, report)
                report.replaced = swap(conn, manifest, staging, clean, report)
            except BaseException:
                drop_staging(dsn, staging)
                raise
        finally:
            if lent:
                conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(sql.Identifier(database),
                                                                                    sql.Identifier(RESTORE)))




def restore_backup(backup: Path, dsn: str, *, clean: bool = False, settings: Settings | None = None,
                   ledger_dsn: str | None = None, run_id: str | None = None) -> RestoreReport:
    """Restore the backup named by ``backup`` (directory, manifest or dump) into ``dsn``, verified before it
    replaces anything (see the module docstring).

    :param backup: the backup directory, its ``manifest.json`` or its ``vectors.dump``.
    :param dsn: the target database (it exists; the ``vector`` extension is created when missing), as a user
        that may create databases and reassign ``vectorops_restore``'s objects (the CLI's administrative user).
    :param clean: replace schemas of the backup that already exist in the target.
    :param settings: ``VECTOROPS_HOME`` (signing key, the restore role's password); default from the environment.
    :param ledger_dsn: the vectors database whose ``vectorops.backups`` recorded the backup, when known.
    :param run_id: sent with the alert of a refused restore.
    :raises ValueError: when the target already has the backup's schemas and ``clean`` is not set; with
        ``clean``, when objects outside them depend on them or the target holds schemas vectorops created that
        the backup does not hold; or when ``backup`` names no backup. Nothing was done.
    :raises BackupError: (after alerting) when the backup is not authentic, its files do not match its manifest,
        its restore login is privileged, its dump carries code, its restore fails or differs from the manifest,
        or the swap finds it unsafe; the target is then unchanged.
    :raises vectorops.errors.SettingError: when there is no credential for ``vectorops_restore``.
    """
    settings = settings or load_settings()
    started = time.perf_counter()
    manifest_path = resolve_manifest(backup)
    report = RestoreReport(manifest_path.parent.name, manifest_path, pg_tools.redacted_dsn(dsn))
    try:
        manifest = read_manifest(manifest_path)
    except ValueError as exc:
        refuse(report, "has no readable manifest", [{"expectation": "manifest_readable", "observed": str(exc)}],
                run_id)
    report.backup_id, report.tables, report.rows = manifest.backup_id, len(manifest.tables), manifest.total_rows
    forged = (authenticity_failures(manifest_path, manifest, settings.home)
              + ledger_failures(ledger_dsn, manifest_path, manifest.backup_id))
    if forged:
        refuse(report, "is not authentic", forged, run_id)
    damaged = check_files(manifest_path, manifest, None)
    if damaged:
        refuse(report, "does not match its manifest", damaged, run_id)
    database = pg_tools.database_name(dsn)
    with connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        conn.execute("SET search_path = pg_catalog, pg_temp")
        sweep_abandoned_staging(conn)
        present = existing_schemas(conn, manifest.schemas)
        foreign = not_ours(conn, present)
        newer = unbacked_schemas(conn, manifest) if clean and present else []
        depending = outside_dependents(conn, present) if clean and present else []
    if foreign:
        raise ValueError(
            f"target database {database} has schema(s) {', '.join(foreign)} of backup "
            f"{manifest.backup_id}, which vectorops did not create there; a restore replaces only schemas vectorops "
            "created: restore into another database, or rename or drop them yourself")
    if present and not clean:
        raise ValueError(
            f"target database {database} already has schema(s) {', '.join(present)} of "
            f"backup {manifest.backup_id}; restore into a fresh database, or pass --clean to replace them")
    if newer:
        raise ValueError(
            f"target database {database} has schema(s) {', '.join(newer)} that vectorops created after backup "
            f"{manifest.backup_id} was taken (the backup does not hold them); --clean would lose their records: "
            "drop them (or move their collections into the backup's schemas) first, or restore into another database")
    if depending:
        raise ValueError(
            f"target database {database}: {'; '.join(depending[:5])}"
            f"{f' and {len(depending) - 5} more' if len(depending) > 5 else ''} outside the backup's schema(s) "
            f"would be dropped by --clean; drop or move them first, or restore into another database")
    restore_dsn = restore_role_dsn(settings, dsn)
    token = secrets.token_hex(4)
    staging = staging_names(manifest, token)
    try:
        with tempfile.TemporaryDirectory(prefix="vectorops-restore-") as scratch_files:
            staged_dump = Path(scratch_files) / "staged.dump"
            with scratch_database(dsn, restore_dsn) as scratch_dsn:
                failures = restore_and_compare(scratch_dsn, manifest_path, manifest)
                if failures:
                    refuse(report, "failed verification in a scratch database", failures, run_id)
                stage_in_scratch(scratch_dsn, staging, staged_dump)
            _into_target(dsn, restore_dsn, staged_dump, manifest, token, clean, report, run_id)
    except RestoreLoginRefused as exc:
        refuse(report, "was not restored: its restore login is privileged",
                [{"expectation": "restore_login_unprivileged", "observed": str(exc)}], run_id)
    except BackupError as exc:
        if report.failures:  # refused and alerted already
            raise
        refuse(report, "could not be swapped in", [{"expectation": "swap_safe", "observed": str(exc)}], run_id)
    except Exception as exc:
        refuse(report, "could not be restored", [{"expectation": "restore_succeeded",
                                                   "observed": {"error": str(exc)[:2000]}}], run_id)
    report.seconds = time.perf_counter() - started
    log.info("restore of backup %s into %s: verified against its manifest and swapped in, replacing %s",
             manifest.backup_id, report.target, ", ".join(report.replaced) or "nothing")
    return report


__all__ = ["RESTORE_FAILED", "RESTORE_LOCK", "RestoreReport", "ledger_failures", "restore_backup"]
