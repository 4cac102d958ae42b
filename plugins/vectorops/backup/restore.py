"""Restore a backup into a target database: verified first, swapped into place last, never made worse.

1. The backup must be authentic: its manifest's HMAC checks with the key under ``VECTOROPS_HOME``, and, when the
   vectors database's ``vectorops.backups`` is reachable and records the backup, the manifest's sha256 matches the
   ledger's; every file matches the manifest.
2. The dump is replayed by ``vectorops_restore`` (it logs in itself: no superuser, no CREATEROLE, a member of no
   role) into a scratch database and compared with the manifest there.
3. Only then is the target touched: the verified schemas are renamed to staging names in the scratch database,
   dumped, and restored (again as ``vectorops_restore``) into staging schemas of the target, compared again, and
   swapped into place in one transaction, which also drops the old schemas (``clean``), hands everything restored
   to ``vectorops_etl``, re-grants the platform's privileges and records the schemas as vectorops-created.

A backup refused at any step leaves the target as it was, and alerts (``restore_failed``). The rows of
``vectorops.backups`` (never part of a dump) are carried over from the replaced ``vectorops`` schema.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import psycopg
from psycopg import sql

from vectorops import db, ownership
from vectorops.backup import ledger, pg_tools
from vectorops.backup.compare import compare_database
from vectorops.backup.manifest import Manifest, read_manifest, resolve_manifest, sha256_file
from vectorops.backup.take import BackupError
from vectorops.backup.verify import authenticity_failures, check_files, restore_and_compare, scratch_database
from vectorops.config import Settings, load_settings
from vectorops.db_role_dsn import restore_role_dsn
from vectorops.db_roles import ETL, RESTORE

log = logging.getLogger(__name__)

RESTORE_FAILED = "restore_failed"
PLATFORM_SCHEMA = "vectorops"
SWAP_LOCK_TIMEOUT = "30s"
# run after the swap as the restoring user: the platform's own SECURITY DEFINER function replaces whatever the dump
# held under its name, and the roles get their grants back (the dump is restored without privileges)
PLATFORM_SQL = ("schema/create_drop_invalid_index", "schema/grant_platform_privileges",
                "schema/grant_vector_privileges")


@dataclass
class RestoreReport:
    """The outcome of a restore.

    :param backup_id: the backup restored.
    :param manifest_path: its manifest.
    :param target: the target, redacted.
    :param replaced: schemas that existed and were replaced.
    :param failures: failed comparisons with the manifest (always empty in a report that is returned).
    :param tables: tables compared.
    :param rows: vector rows in the manifest.
    :param seconds: how long it took.
    :param warnings: what the swap could not redo (platform grants), for the operator.
    """

    backup_id: str
    manifest_path: Path
    target: str
    replaced: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

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


def _summary(failures: list[dict[str, Any]]) -> str:
    text = "; ".join(f"{f['expectation']}: {f['observed']}" for f in failures[:3])
    return text if len(text) <= 400 else text[:397] + "..."


def _refuse(report: RestoreReport, what: str, failures: list[dict[str, Any]], run_id: str | None) -> NoReturn:
    """Alert and raise: the backup was not restored and the target is as it was."""
    from vectorops.backup import jobs

    report.failures = failures
    message = (f"backup {report.backup_id} ({report.manifest_path.parent}) {what}; not restored, the target "
               f"{report.target} is unchanged: {_summary(failures)}")
    jobs.alert(RESTORE_FAILED, message, failures, dag_id=None, run_id=run_id)
    raise BackupError(message.replace("\n", " "))


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


def _carry_over_ledger(conn: psycopg.Connection, source: str, target: str) -> None:
    """Copy the ``backups`` rows of the schema ``source`` into the ``backups`` table of the schema ``target``."""
    columns = [r[0] for r in conn.execute(
        """SELECT a.column_name FROM information_schema.columns a JOIN information_schema.columns b
             ON b.table_schema = %s AND b.table_name = 'backups' AND b.column_name = a.column_name
           WHERE a.table_schema = %s AND a.table_name = 'backups' ORDER BY a.ordinal_position""", (target, source))]
    if not columns:
        return
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
        sql.Identifier(target, "backups"), names, names, sql.Identifier(source, "backups")))


def _stage_in_scratch(scratch_dsn: str, staging: dict[str, str], dump: Path) -> None:
    """Rename the verified schemas of the scratch database to their staging names and dump them into ``dump``."""
    with db.connect(scratch_dsn, autocommit=True) as conn, conn.transaction():
        for name, staged in staging.items():
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(staged)))
    pg_tools.dump_schemas(scratch_dsn, list(staging.values()), dump)


def _staged_manifest(manifest: Manifest, staging: dict[str, str]) -> Manifest:
    return replace(manifest, schemas=sorted(staging.values()),
                   tables=[replace(t, schema=staging[t.schema]) for t in manifest.tables])


def _adopt(conn: psycopg.Connection, schemas: list[str], report: RestoreReport) -> None:
    """Record the restored schemas and their tables as vectorops-created (:mod:`vectorops.ownership`)."""
    if conn.execute("SELECT to_regclass('vectorops.owned_objects')").fetchone()[0] is None:
        report.warnings.append(f"backup {report.backup_id} predates vectorops.owned_objects: restored schema(s) "
                               f"{', '.join(schemas)} are not recorded as vectorops-created")
        log.warning("%s", report.warnings[-1])
        return
    ownership.adopt_restored(conn, schemas)


def _not_ours(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Which of ``schemas`` (present in the target) vectorops did not create there: a restore never replaces those.
    The platform schema is the platform's wherever it is."""
    return [name for name in schemas if name != PLATFORM_SCHEMA and not ownership.owns_schema(conn, name)]


def _swap(conn: psycopg.Connection, manifest: Manifest, staging: dict[str, str], clean: bool,
          report: RestoreReport) -> list[str]:
    """In one transaction: drop the old schemas, rename the staged ones into place, hand them to vectorops_etl.

    :return: the schemas replaced.
    """
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT)))
        present = existing_schemas(conn, manifest.schemas)
        if present and not clean:
            raise BackupError(f"schema(s) {', '.join(present)} appeared in the target while it was restored")
        if foreign := _not_ours(conn, present):
            raise BackupError(f"schema(s) {', '.join(foreign)} in the target were not created by vectorops; "
                              "not replaced")
        if PLATFORM_SCHEMA in present and PLATFORM_SCHEMA in staging:
            _carry_over_ledger(conn, PLATFORM_SCHEMA, staging[PLATFORM_SCHEMA])
        for name in present:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        for name, staged in staging.items():
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(staged), sql.Identifier(name)))
        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(RESTORE), sql.Identifier(ETL)))
        _adopt(conn, list(manifest.schemas), report)  # first: the grants go to recorded objects only
        for name in PLATFORM_SQL:
            try:
                with conn.transaction():
                    conn.execute(db.sql_text(name))
            except psycopg.Error as exc:
                report.warnings.append(f"{name} failed after the restore ({type(exc).__name__}: "
                                       f"{str(exc).splitlines()[0]}); run `vectorops db up`")
                log.warning("%s", report.warnings[-1])
    return present


def _drop_staging(dsn: str, staging: dict[str, str]) -> None:
    with db.connect(dsn, autocommit=True) as conn, conn.transaction():
        for staged in staging.values():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staged)))


def _into_target(dsn: str, restore_dsn: str, staged_dump: Path, manifest: Manifest, staging: dict[str, str],
                 clean: bool, report: RestoreReport, run_id: str | None) -> None:
    """Restore the staged dump into staging schemas of the target, compare, swap; the staging goes on failure."""
    database = pg_tools.database_name(dsn)
    with db.connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        lent = not conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')",
                                (RESTORE,)).fetchone()[0]
        if lent:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                              sql.Identifier(RESTORE)))
        try:
            with conn.transaction():
                for staged in staging.values():
                    conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(staged),
                                                                                     sql.Identifier(RESTORE)))
            try:
                target_as_restore = pg_tools.dsn_for_database(restore_dsn, database)
                toc = pg_tools.write_toc_without_schemas(staged_dump, staged_dump.with_suffix(".toc"))
                pg_tools.restore_dump(staged_dump, target_as_restore, use_list=toc)
                with db.connect(target_as_restore, autocommit=True) as mine:
                    failures = compare_database(mine, _staged_manifest(manifest, staging))
                if failures:
                    _refuse(report, "differs from its manifest once restored into the target", failures, run_id)
                report.replaced = _swap(conn, manifest, staging, clean, report)
            except BaseException:
                _drop_staging(dsn, staging)
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
    :raises ValueError: when the target already has the backup's schemas and ``clean`` is not set, or when
        ``backup`` names no backup.
    :raises BackupError: (after alerting) when the backup is not authentic, its files do not match its manifest,
        or its restore fails or differs from the manifest; the target is then unchanged.
    :raises vectorops.config.SettingError: when there is no credential for ``vectorops_restore``.
    """
    settings = settings or load_settings()
    started = time.perf_counter()
    manifest_path = resolve_manifest(backup)
    report = RestoreReport(manifest_path.parent.name, manifest_path, pg_tools.redacted_dsn(dsn))
    try:
        manifest = read_manifest(manifest_path)
    except ValueError as exc:
        _refuse(report, "has no readable manifest", [{"expectation": "manifest_readable", "observed": str(exc)}],
                run_id)
    report.backup_id, report.tables, report.rows = manifest.backup_id, len(manifest.tables), manifest.total_rows
    forged = (authenticity_failures(manifest_path, manifest, settings.home)
              + ledger_failures(ledger_dsn, manifest_path, manifest.backup_id))
    if forged:
        _refuse(report, "is not authentic", forged, run_id)
    damaged = check_files(manifest_path, manifest, None)
    if damaged:
        _refuse(report, "does not match its manifest", damaged, run_id)
    with db.connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        present = existing_schemas(conn, manifest.schemas)
        foreign = _not_ours(conn, present)
    if foreign:
        raise ValueError(
            f"target database {pg_tools.database_name(dsn)} has schema(s) {', '.join(foreign)} of backup "
            f"{manifest.backup_id}, which vectorops did not create there; a restore replaces only schemas vectorops "
            "created: restore into another database, or rename or drop them yourself")
    if present and not clean:
        raise ValueError(
            f"target database {pg_tools.database_name(dsn)} already has schema(s) {', '.join(present)} of "
            f"backup {manifest.backup_id}; restore into a fresh database, or pass --clean to replace them")
    restore_dsn = restore_role_dsn(settings, dsn)
    token = secrets.token_hex(4)
    staging = {name: f"{name[:40]}__restoring_{token}" for name in manifest.schemas}
    try:
        with tempfile.TemporaryDirectory(prefix="vectorops-restore-") as scratch_files:
            staged_dump = Path(scratch_files) / "staged.dump"
            with scratch_database(dsn, restore_dsn) as scratch_dsn:
                failures = restore_and_compare(scratch_dsn, manifest_path, manifest)
                if failures:
                    _refuse(report, "failed verification in a scratch database", failures, run_id)
                _stage_in_scratch(scratch_dsn, staging, staged_dump)
            _into_target(dsn, restore_dsn, staged_dump, manifest, staging, clean, report, run_id)
    except BackupError:
        raise
    except Exception as exc:
        _refuse(report, "could not be restored", [{"expectation": "restore_succeeded",
                                                   "observed": {"error": str(exc)[:2000]}}], run_id)
    report.seconds = time.perf_counter() - started
    log.info("restore of backup %s into %s: verified against its manifest and swapped in, replacing %s",
             manifest.backup_id, report.target, ", ".join(report.replaced) or "nothing")
    return report
