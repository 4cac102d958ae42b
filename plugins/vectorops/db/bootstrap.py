"""The one-time database bootstrap: server, databases, extensions, platform tables and roles."""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.connect import connect
from vectorops.db.sql_files import sql_text

#: the platform's tables, in the order they are made; their hash is the schema's version
SCHEMA_FILES = ("schema/create_registry", "schema/create_operations_tables", "schema/create_sync_tables",
                "schema/create_sync_digests", "schema/create_schema_version")


def schema_sha256() -> str:
    """The sha256 of :data:`SCHEMA_FILES`: the version of the platform schema this code makes."""
    digest = hashlib.sha256()
    for name in SCHEMA_FILES:
        digest.update(sql_text(name).encode())
    return digest.hexdigest()


def _recorded_version(conn: psycopg.Connection) -> str | None:
    if conn.execute("SELECT to_regclass('vectorops.schema_version')").fetchone() in (None, (None,)):
        return None
    row = conn.execute("SELECT sha256 FROM vectorops.schema_version").fetchone()
    return None if row is None else str(row[0])


def bootstrap(settings: Settings) -> str:
    """Start (or reuse) the server and make sure databases, extensions, platform tables and roles exist.

    Idempotent, and serialised between processes by an advisory lock. The platform tables' DDL runs only when the
    database does not hold this code's schema version yet (:func:`schema_sha256`). With ``VECTOROPS_DSN`` set only the
    extension and schema are created there. When the user may create roles, the least-privilege roles are created
    and granted too (:mod:`vectorops.db.grants`); a migration, which bootstraps as ``vectorops_etl``, skips that.

    :return: the DSN of the vectors database.
    """
    from vectorops.db import grants

    target = runtime.start(settings)
    if not settings.external_dsn:
        with connect(runtime.dsn(settings, "postgres"), autocommit=True) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for database in runtime.DATABASES:
                if database not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    with connect(target, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended('vectorops:bootstrap', 0))")  # held by the session
        conn.execute(sql_text("schema/create_extensions"))
        if not settings.external_dsn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        version = schema_sha256()
        if _recorded_version(conn) != version:
            for name in SCHEMA_FILES:
                conn.execute(sql_text(name))
            conn.execute(sql_text("schema/upsert_schema_version"), (version,))
        if grants.can_manage_roles(conn):
            grants.setup_roles(conn, settings, target)
    return target
