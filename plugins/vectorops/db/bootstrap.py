"""The one-time database bootstrap: server, databases, extensions, platform tables and roles."""

from __future__ import annotations

from psycopg import sql

from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.connect import connect
from vectorops.db.sql_files import sql_text


def bootstrap(settings: Settings) -> str:
    """Start (or reuse) the server and make sure databases, extensions, platform tables and roles exist.

    Idempotent, and serialised between processes by an advisory lock. With ``VECTOROPS_DSN`` set only the
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
        conn.execute(sql_text("schema/create_registry"))
        conn.execute(sql_text("schema/create_operations_tables"))
        conn.execute(sql_text("schema/create_sync_tables"))
        conn.execute(sql_text("schema/create_sync_digests"))
        if grants.can_manage_roles(conn):
            grants.setup_roles(conn, settings, target)
    return target
