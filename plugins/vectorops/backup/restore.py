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
import re
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
from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import Manifest, read_manifest, resolve_manifest, sha256_file
from vectorops.backup.verify import (
    authenticity_failures,
    check_files,
    code_failures,
    restore_and_compare,
    scratch_database,
)
from vectorops.config import Settings, load_settings
from vectorops.db_role_dsn import RestoreLoginRefused, restore_role_dsn
from vectorops.db_roles import ETL, RESTORE

log = logging.getLogger(__name__)

RESTORE_FAILED = "restore_failed"
PLATFORM_SCHEMA = "vectorops"
SWAP_LOCK_TIMEOUT = "30s"
# run in the swap as the restoring user: the platform's own functions replace whatever the dump held under their
# names (a failure aborts the swap), and the roles get their grants back (the dump is restored without privileges)
PLATFORM_FUNCTIONS = ("schema/create_drop_invalid_index", "schema/replace_platform_functions")
PLATFORM_GRANTS = ("schema/grant_platform_privileges", "schema/grant_vector_privileges")
# the class of the session advisory locks (restore lock, token) a running restore holds on its target ('vrst')
RESTORE_LOCK = 0x76727374
STAGING_TOKEN = re.compile(r"__restoring_([0-9a-f]{8})$")
LENT_CONNECT = "lent CONNECT"


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


def _stage_in_scratch(scratch_dsn: str, staging: dict[str, str], dump: Path) -> None:
    """Rename the verified schemas of the scratch database to their staging names and dump them into ``dump``."""
    with db.connect(scratch_dsn, autocommit=True) as conn, conn.transaction():
        for name, staged in staging.items():
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(staged)))
    pg_tools.dump_schemas(scratch_dsn, list(staging.values()), dump)


def _staged_manifest(manifest: Manifest, staging: dict[str, str]) -> Manifest:
    return replace(manifest, schemas=sorted(staging.values()),
                   tables=[replace(t, schema=staging[t.schema]) for t in manifest.tables])


def _not_ours(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Which of ``schemas`` (present in the target) vectorops did not create there: a restore never replaces those.
    The platform schema is the platform's wherever it is."""
    return [name for name in schemas if name != PLATFORM_SCHEMA and not ownership.owns_schema(conn, name)]


def _token_key(token: str) -> int:
    """The 8-hex-digit restore token as the signed 32-bit second key of its advisory lock."""
    value = int(token, 16)
    return value - (1 << 32) if value >= 1 << 31 else value


def outside_dependents(conn: psycopg.Connection, schemas: list[str], staging: list[str] | None = None) -> list[str]:
    """Objects outside ``schemas`` (and ``staging``) that depend on an object inside them, described: what
    ``DROP SCHEMA ... CASCADE`` would drop with them (a view over a vector table, a column typed with its row type).

    :param conn: a connection to the target.
    :param schemas: the schemas a restore would replace.
    :param staging: schemas that are not "outside" (the restore's own staging schemas).
    """
    rows = conn.execute(db.sql_text("backup/select_outside_dependents"),
                        {"schemas": schemas, "staging": staging or []}).fetchall()
    return [f"{dependent} (depends on {what})" for dependent, what in rows]


def unbacked_schemas(conn: psycopg.Connection, manifest: Manifest) -> list[str]:
    """Schemas of the target that vectorops created (recorded in its ``vectorops.owned_objects`` under their
    current oid) which the backup does not hold: replacing ``vectorops`` would lose their records.

    :param conn: a connection to the target.
    :param manifest: the backup's manifest.
    """
    if PLATFORM_SCHEMA not in manifest.schemas or conn.execute(
            "SELECT to_regclass('vectorops.owned_objects')").fetchone()[0] is None:
        return []
    rows = conn.execute("""SELECT o.schema_name FROM vectorops.owned_objects o
                           JOIN pg_catalog.pg_namespace n ON n.nspname = o.schema_name AND n.oid = o.object_oid
                           WHERE o.kind = 'schema' AND o.schema_name <> ALL(%s) ORDER BY 1""",
                        (list(manifest.schemas),)).fetchall()
    return [r[0] for r in rows]


def sweep_abandoned_staging(conn: psycopg.Connection, keep: str | None = None) -> list[str]:
    """Drop the staging schemas of restores that were killed (their token's advisory lock is free), and the
    ``CONNECT`` such a restore lent ``vectorops_restore`` when no other restore runs in this database.

    A staging schema something outside depends on is left, with a warning, rather than dropped with CASCADE.

    :param conn: an autocommit connection to the target, as the administrative user.
    :param keep: the calling restore's own token.
    :return: the schemas dropped.
    """
    swept: list[str] = []
    lent = False
    others = conn.execute("""SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_database d
                               ON d.oid = l.database AND d.datname = current_database()
                             WHERE l.locktype = 'advisory' AND l.classid = %s::oid AND l.objsubid = 2
                               AND l.pid <> pg_backend_pid()""", (RESTORE_LOCK,)).fetchone()[0]
    for name, token, note in conn.execute(db.sql_text("backup/select_staging_schemas"), {"role": RESTORE}).fetchall():
        if token == keep or not conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                             (RESTORE_LOCK, _token_key(token))).fetchone()[0]:
            continue  # a running restore's
        try:
            if LENT_CONNECT in note and others:
                # its note is what says the CONNECT must go; a running restore may still need that CONNECT
                log.info("staging schema %s of a killed restore is left for a sweep when no restore runs", name)
                continue
            if depending := outside_dependents(conn, [name]):
                log.warning("staging schema %s of a killed restore is left: %s depend(s) on it", name,
                            "; ".join(depending[:5]))
                continue
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
            lent = lent or LENT_CONNECT in note
            swept.append(name)
            log.warning("dropped staging schema %s (a full copy of backed-up data), left by a restore that was "
                        "killed (token %s)", name, token)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RESTORE_LOCK, _token_key(token)))
    if lent:
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
            sql.Identifier(conn.info.dbname), sql.Identifier(RESTORE)))
        log.warning("revoked CONNECT on database %s from %s, lent by a restore that was killed", conn.info.dbname,
                    RESTORE)
    log.info("restore: %d abandoned staging schema(s) swept from database %s", len(swept), conn.info.dbname)
    return swept


def _carry_over_ledger(admin: psycopg.Connection, mine: psycopg.Connection, staged: str) -> None:
    """Copy the rows of the target's ``vectorops.backups`` into the staged ledger ``staged.backups``: read by the
    administrative user, written by ``vectorops_restore`` (no privileged DML on a restored table)."""
    old, new = sql.Identifier(PLATFORM_SCHEMA, "backups"), sql.Identifier(staged, "backups")
    columns = [r[0] for r in admin.execute(
        """SELECT a.attname::text FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attribute b
             ON b.attrelid = to_regclass(%s) AND b.attname = a.attname AND b.attnum > 0 AND NOT b.attisdropped
           WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
           ORDER BY a.attnum""", (new.as_string(admin), old.as_string(admin)))]
    if "backup_id" not in columns:
        return
    present = [r[0] for r in mine.execute(sql.SQL("SELECT backup_id FROM {}").format(new))]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    with admin.cursor().copy(sql.SQL("COPY (SELECT {} FROM {} WHERE backup_id <> ALL({})) TO STDOUT").format(
            names, old, sql.Literal(present))) as out, \
            mine.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(new, names)) as into:
        for chunk in out:
            into.write(chunk)


def _adopt_staged(mine: psycopg.Connection, staging: dict[str, str], report: RestoreReport) -> None:
    """As ``vectorops_restore``: point the staged ``owned_objects`` at the staged schemas and tables (the swap's
    renames keep their oids), dropping records of objects the backup does not hold."""
    owned = sql.Identifier(staging[PLATFORM_SCHEMA], "owned_objects")
    if mine.execute("SELECT to_regclass(%s)", (owned.as_string(mine),)).fetchone()[0] is None:
        report.warnings.append(f"backup {report.backup_id} predates vectorops.owned_objects: restored schema(s) "
                               f"{', '.join(staging)} are not recorded as vectorops-created")
        log.warning("%s", report.warnings[-1])
        return
    mine.execute(db.statement("backup/update_staged_ownership", owned=owned),
                 {"finals": list(staging), "stageds": list(staging.values())})


def _prepare_staging(admin: psycopg.Connection, mine: psycopg.Connection, staging: dict[str, str], clean: bool,
                     report: RestoreReport) -> None:
    """Before the swap, on the staging schemas, as ``vectorops_restore``: the ledger's rows, the ownership record."""
    if PLATFORM_SCHEMA not in staging:
        return
    with mine.transaction():
        if clean and existing_schemas(admin, [PLATFORM_SCHEMA]):
            _carry_over_ledger(admin, mine, staging[PLATFORM_SCHEMA])
        _adopt_staged(mine, staging, report)


def _hand_over(conn: psycopg.Connection, schemas: list[str]) -> None:
    """Give ``vectorops_etl`` the swapped-in schemas and what ``vectorops_restore`` owns in them, object by object
    (another restore's staging stays ``vectorops_restore``'s); refuse when anything there stays the restore role's."""
    etl = sql.Identifier(ETL)
    for name in schemas:
        conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(name), etl))
    rows = conn.execute(db.sql_text("backup/select_restored_objects"), {"schemas": schemas, "role": RESTORE}).fetchall()
    for kind, schema, name, arg_schemas, arg_types in rows:
        target: sql.Composable = sql.Identifier(schema, name)
        if kind == "ROUTINE":
            target = sql.SQL("{}({})").format(target, sql.SQL(", ").join(
                sql.Identifier(s, t) for s, t in zip(arg_schemas, arg_types, strict=True)))
        conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), target, etl))
    if left := [r[0] for r in conn.execute(db.sql_text("backup/select_restore_role_leftovers"),
                                           {"schemas": schemas, "role": RESTORE})]:
        raise BackupError(f"{', '.join(left[:5])} would stay {RESTORE}'s after the swap; not swapped in")


def _platform_sql(conn: psycopg.Connection, report: RestoreReport, restored_platform: bool) -> None:
    """The platform's own functions (mandatory when ``vectorops`` was restored) and grants (warned about)."""
    for name in PLATFORM_FUNCTIONS + PLATFORM_GRANTS:
        try:
            with conn.transaction():
                conn.execute(db.sql_text(name))
        except psycopg.Error as exc:
            if restored_platform and name in PLATFORM_FUNCTIONS:
                raise BackupError(f"{name} failed in the swap ({type(exc).__name__}: {str(exc).splitlines()[0]}): "
                                  "the restored platform functions cannot be replaced; not swapped in") from exc
            report.warnings.append(f"{name} failed after the restore ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0]}); run `vectorops db up`")
            log.warning("%s", report.warnings[-1])


def _swap(conn: psycopg.Connection, manifest: Manifest, staging: dict[str, str], clean: bool,
          report: RestoreReport) -> list[str]:
    """In one transaction, DDL only: drop the old schemas, rename the staged ones into place, hand their objects
    to vectorops_etl, put back the platform's functions and grants.

    :return: the schemas replaced.
    """
    with conn.transaction():
        # nothing the dump named may stand in for a builtin, and no restored trigger or rule fires
        conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        if conn.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')").fetchone()[0]:
            conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT)))
        present = existing_schemas(conn, manifest.schemas)
        if present and not clean:
            raise BackupError(f"schema(s) {', '.join(present)} appeared in the target while it was restored")
        if foreign := _not_ours(conn, present):
            raise BackupError(f"schema(s) {', '.join(foreign)} in the target were not created by vectorops; "
                              "not replaced")
        if present and (newer := unbacked_schemas(conn, manifest)):
            raise BackupError(f"schema(s) {', '.join(newer)} were created by vectorops after the backup and are not "
                              "in it; not replaced")
        for schema, relation in conn.execute("""SELECT n.nspname, c.relname FROM pg_class c
                                                JOIN pg_namespace n ON n.oid = c.relnamespace
                                                WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                                                ORDER BY c.oid""", (present,)).fetchall():
            # held to the commit: nothing can come to depend on them between the check and the drop
            conn.execute(sql.SQL("LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE").format(
                sql.Identifier(schema, relation)))
        if depending := outside_dependents(conn, present, list(staging.values())):
            raise BackupError(f"{'; '.join(depending[:5])} outside the replaced schema(s) would be dropped with "
                              "them; not replaced")
        for name in present:  # nothing outside depends on them (checked above, under lock)
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        for name, staged in staging.items():
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(staged), sql.Identifier(name)))
        _hand_over(conn, list(staging))
        if PLATFORM_SCHEMA not in staging:  # the target's own ledger of ownership (not restored) records them
            ownership.adopt_restored(conn, list(manifest.schemas))
        _platform_sql(conn, report, PLATFORM_SCHEMA in staging)
    return present


def _drop_staging(dsn: str, staging: dict[str, str]) -> None:
    with db.connect(dsn, autocommit=True) as conn, conn.transaction():
        for staged in staging.values():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staged)))


def _into_target(dsn: str, restore_dsn: str, staged_dump: Path, manifest: Manifest, token: str, clean: bool,
                 report: RestoreReport, run_id: str | None) -> None:
    """Restore the staged dump into staging schemas of the target, compare, check, prepare, swap; the staging goes
    on failure. The session holds the token's advisory lock throughout, so that no other restore sweeps it."""
    database = pg_tools.database_name(dsn)
    staging = staging_names(manifest, token)
    with db.connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        conn.execute("SET search_path = pg_catalog, pg_temp")
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (RESTORE_LOCK, _token_key(token)))
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")  # where dumps name it: public.vector
        lent = not conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')",
                                (RESTORE,)).fetchone()[0]
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
                with db.connect(target_as_restore, autocommit=True) as mine:
                    failures = (code_failures(mine, list(staging.values()), staging.get(PLATFORM_SCHEMA, ""))
                                or compare_database(mine, _staged_manifest(manifest, staging)))
                    if failures:
                        _refuse(report, "differs from its manifest once restored into the target", failures, run_id)
                    _prepare_staging(conn, mine, staging, clean, report)
                report.replaced = _swap(conn, manifest, staging, clean, report)
            except BaseException:
                _drop_staging(dsn, staging)
                raise
        finally:
            if lent:
                conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(sql.Identifier(database),
                                                                                    sql.Identifier(RESTORE)))


def staging_names(manifest: Manifest, token: str) -> dict[str, str]:
    """The staging name of each of the backup's schemas for the restore ``token``: ``<schema>__restoring_<token>``.

    :param manifest: the backup's manifest.
    :param token: 8 hex digits.
    """
    return {name: f"{name[:40]}__restoring_{token}" for name in manifest.schemas}


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
    database = pg_tools.database_name(dsn)
    with db.connect(dsn, autocommit=True, application_name="vectorops-restore") as conn:
        conn.execute("SET search_path = pg_catalog, pg_temp")
        sweep_abandoned_staging(conn)
        present = existing_schemas(conn, manifest.schemas)
        foreign = _not_ours(conn, present)
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
                    _refuse(report, "failed verification in a scratch database", failures, run_id)
                _stage_in_scratch(scratch_dsn, staging, staged_dump)
            _into_target(dsn, restore_dsn, staged_dump, manifest, token, clean, report, run_id)
    except RestoreLoginRefused as exc:
        _refuse(report, "was not restored: its restore login is privileged",
                [{"expectation": "restore_login_unprivileged", "observed": str(exc)}], run_id)
    except BackupError as exc:
        if report.failures:  # refused and alerted already
            raise
        _refuse(report, "could not be swapped in", [{"expectation": "swap_safe", "observed": str(exc)}], run_id)
    except Exception as exc:
        _refuse(report, "could not be restored", [{"expectation": "restore_succeeded",
                                                   "observed": {"error": str(exc)[:2000]}}], run_id)
    report.seconds = time.perf_counter() - started
    log.info("restore of backup %s into %s: verified against its manifest and swapped in, replacing %s",
             manifest.backup_id, report.target, ", ".join(report.replaced) or "nothing")
    return report
