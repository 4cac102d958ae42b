"""A restore's staging schemas: named per token, filled from the verified scratch database, prepared as
``vectorops_restore`` (ledger rows, ownership records), dropped on failure, and swept when a killed restore left
them."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql

from vectorops.backup import pg_tools
from vectorops.backup.manifest import Manifest
from vectorops.backup.restore_report import LENT_CONNECT, PLATFORM_SCHEMA, RESTORE_LOCK, RestoreReport
from vectorops.backup.restore_swap import existing_schemas, outside_dependents
from vectorops.db.connect import connect
from vectorops.db.roles import RESTORE
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text, statement

log = logging.getLogger(__name__)


def staging_names(manifest: Manifest, token: str) -> dict[str, str]:
    """The staging name of each of the backup's schemas for the restore ``token``: ``<schema>__restoring_<token>``.

    :param manifest: the backup's manifest.
    :param token: 8 hex digits.
    """
    return {name: f"{name[:40]}__restoring_{token}" for name in manifest.schemas}


def token_key(token: str) -> int:
    """The 8-hex-digit restore token as the signed 32-bit second key of its advisory lock."""
    value = int(token, 16)
    return value - (1 << 32) if value >= 1 << 31 else value


def stage_in_scratch(scratch_dsn: str, staging: dict[str, str], dump: Path) -> None:
    """Rename the verified schemas of the scratch database to their staging names and dump them into ``dump``."""
    with connect(scratch_dsn, autocommit=True) as conn, conn.transaction():
        for name, staged in staging.items():
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(staged)))
    pg_tools.dump_schemas(scratch_dsn, list(staging.values()), dump)


def staged_manifest(manifest: Manifest, staging: dict[str, str]) -> Manifest:
    return replace(manifest, schemas=sorted(staging.values()),
                   tables=[replace(t, schema=staging[t.schema]) for t in manifest.tables])


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
    others = one_value(conn.execute(sql_text("backup/count_other_restores"), (RESTORE_LOCK,)))
    for name, token, note in conn.execute(sql_text("backup/select_staging_schemas"), {"role": RESTORE}).fetchall():
        if token == keep or not one_value(conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                                                (RESTORE_LOCK, token_key(token)))):
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
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RESTORE_LOCK, token_key(token)))
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
    columns = [r[0] for r in admin.execute(sql_text("backup/select_shared_columns"),
                                           (new.as_string(admin), old.as_string(admin)))]
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
    if one_value(mine.execute("SELECT to_regclass(%s)", (owned.as_string(mine),))) is None:
        report.warnings.append(f"backup {report.backup_id} predates vectorops.owned_objects: restored schema(s) "
                               f"{', '.join(staging)} are not recorded as vectorops-created")
        log.warning("%s", report.warnings[-1])
        return
    mine.execute(statement("backup/update_staged_ownership", owned=owned),
                 {"finals": list(staging), "stageds": list(staging.values())})


def prepare_staging(admin: psycopg.Connection, mine: psycopg.Connection, staging: dict[str, str], clean: bool,
                     report: RestoreReport) -> None:
    """Before the swap, on the staging schemas, as ``vectorops_restore``: the ledger's rows, the ownership record."""
    if PLATFORM_SCHEMA not in staging:
        return
    with mine.transaction():
        if clean and existing_schemas(admin, [PLATFORM_SCHEMA]):
            _carry_over_ledger(admin, mine, staging[PLATFORM_SCHEMA])
        _adopt_staged(mine, staging, report)


def drop_staging(dsn: str, staging: dict[str, str]) -> None:
    with connect(dsn, autocommit=True) as conn, conn.transaction():
        for staged in staging.values():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staged)))
