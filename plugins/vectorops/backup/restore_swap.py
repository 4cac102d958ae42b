"""The swap of a restore: the target checks (schemas vectorops did not create, objects depending on the
replaced schemas, vectorops schemas the backup lacks) and the one DDL-only transaction that puts the staged
schemas in place."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import Manifest
from vectorops.backup.restore_report import (
    PLATFORM_FUNCTIONS,
    PLATFORM_GRANTS,
    PLATFORM_SCHEMA,
    SWAP_LOCK_TIMEOUT,
    RestoreReport,
)
from vectorops.db import ownership
from vectorops.db.roles import ETL, RESTORE
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text

log = logging.getLogger(__name__)


def existing_schemas(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Which of ``schemas`` exist in the database of ``conn``.

    :param conn: a connection to the target.
    :param schemas: the backup's schemas.
    """
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY 1", (schemas,))
    return [r[0] for r in rows]


def not_ours(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Which of ``schemas`` (present in the target) vectorops did not create there: a restore never replaces those.
    The platform schema is the platform's wherever it is."""
    return [name for name in schemas if name != PLATFORM_SCHEMA and not ownership.owns_schema(conn, name)]


def outside_dependents(conn: psycopg.Connection, schemas: list[str], staging: list[str] | None = None) -> list[str]:
    """Objects outside ``schemas`` (and ``staging``) that depend on an object inside them, described: what
    ``DROP SCHEMA ... CASCADE`` would drop with them (a view over a vector table, a column typed with its row type).

    :param conn: a connection to the target.
    :param schemas: the schemas a restore would replace.
    :param staging: schemas that are not "outside" (the restore's own staging schemas).
    """
    rows = conn.execute(sql_text("backup/select_outside_dependents"),
                        {"schemas": schemas, "staging": staging or []}).fetchall()
    return [f"{dependent} (depends on {what})" for dependent, what in rows]


def unbacked_schemas(conn: psycopg.Connection, manifest: Manifest) -> list[str]:
    """Schemas of the target that vectorops created (recorded in its ``vectorops.owned_objects`` under their
    current oid) which the backup does not hold: replacing ``vectorops`` would lose their records.

    :param conn: a connection to the target.
    :param manifest: the backup's manifest.
    """
    if PLATFORM_SCHEMA not in manifest.schemas or one_value(conn.execute(
            "SELECT to_regclass('vectorops.owned_objects')")) is None:
        return []
    rows = conn.execute(sql_text("backup/select_unbacked_schemas"), (list(manifest.schemas),)).fetchall()
    return [r[0] for r in rows]


def _hand_over(conn: psycopg.Connection, schemas: list[str]) -> None:
    """Give ``vectorops_etl`` the swapped-in schemas and what ``vectorops_restore`` owns in them, object by object
    (another restore's staging stays ``vectorops_restore``'s); refuse when anything there stays the restore role's."""
    etl = sql.Identifier(ETL)
    for name in schemas:
        conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(name), etl))
    rows = conn.execute(sql_text("backup/select_restored_objects"), {"schemas": schemas, "role": RESTORE}).fetchall()
    for kind, schema, name, arg_schemas, arg_types in rows:
        target: sql.Composable = sql.Identifier(schema, name)
        if kind == "ROUTINE":
            target = sql.SQL("{}({})").format(target, sql.SQL(", ").join(
                sql.Identifier(s, t) for s, t in zip(arg_schemas, arg_types, strict=True)))
        conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), target, etl))
    if left := [r[0] for r in conn.execute(sql_text("backup/select_restore_role_leftovers"),
                                           {"schemas": schemas, "role": RESTORE})]:
        raise BackupError(f"{', '.join(left[:5])} would stay {RESTORE}'s after the swap; not swapped in")


def _platform_sql(conn: psycopg.Connection, report: RestoreReport, restored_platform: bool) -> None:
    """The platform's own functions (mandatory when ``vectorops`` was restored) and grants (warned about)."""
    for name in PLATFORM_FUNCTIONS + PLATFORM_GRANTS:
        try:
            with conn.transaction():
                conn.execute(sql_text(name))
        except psycopg.Error as exc:
            if restored_platform and name in PLATFORM_FUNCTIONS:
                raise BackupError(f"{name} failed in the swap ({type(exc).__name__}: {str(exc).splitlines()[0]}): "
                                  "the restored platform functions cannot be replaced; not swapped in") from exc
            report.warnings.append(f"{name} failed after the restore ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0]}); run `vectorops db up`")
            log.warning("%s", report.warnings[-1])


def swap(conn: psycopg.Connection, manifest: Manifest, staging: dict[str, str], clean: bool,
          report: RestoreReport) -> list[str]:
    """In one transaction, DDL only: drop the old schemas, rename the staged ones into place, hand their objects
    to vectorops_etl, put back the platform's functions and grants.

    :return: the schemas replaced.
    """
    with conn.transaction():
        # nothing the dump named may stand in for a builtin, and no restored trigger or rule fires
        conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        if one_value(conn.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")):
            conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT)))
        present = existing_schemas(conn, manifest.schemas)
        if present and not clean:
            raise BackupError(f"schema(s) {', '.join(present)} appeared in the target while it was restored")
        if foreign := not_ours(conn, present):
            raise BackupError(f"schema(s) {', '.join(foreign)} in the target were not created by vectorops; "
                              "not replaced")
        if present and (newer := unbacked_schemas(conn, manifest)):
            raise BackupError(f"schema(s) {', '.join(newer)} were created by vectorops after the backup and are not "
                              "in it; not replaced")
        for schema, relation in conn.execute(sql_text("backup/select_replaced_relations"), (present,)).fetchall():
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
