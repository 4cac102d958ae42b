"""Creating the least-privilege roles and granting them what their jobs need: part of ``vectorops db up``.

Runs when the bootstrap user may create roles (a superuser, or a ``CREATEROLE`` user on an external server), after
the platform tables exist; idempotent. The roles and their privileges are described in :mod:`vectorops.db.roles`
and ``SECURITY.md``; the SQL is in ``vectorops/sql/schema``.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.config import Settings
from vectorops.db.connect import connect
from vectorops.db.dsn import connection_env, env_connection_dsn
from vectorops.db.ownership import MAINTAIN_VERSION
from vectorops.db.roles import ETL, LOGIN_ROLES, ensure_local_passwords, read_local_passwords
from vectorops.db.sql_files import sql_text, statement

log = logging.getLogger(__name__)

RESTORE_TEMPLATE = "vectorops_restore_template"


def can_manage_roles(conn: psycopg.Connection) -> bool:
    """Whether the session's user may create roles (superuser or ``CREATEROLE``).

    :param conn: a connection to the vectors database.
    """
    row = conn.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()
    return bool(row and row[0])


def setup_roles(conn: psycopg.Connection, settings: Settings, dsn: str) -> None:
    """Create the roles, set their passwords, hand the platform's objects to ``vectorops_etl`` and grant.

    :param conn: an autocommit connection to the vectors database as a user that may create roles.
    :param settings: ``VECTOROPS_HOME`` (local passwords) and whether the server is the embedded one.
    :param dsn: the DSN of ``conn`` (the restore template is prepared through it).
    """
    existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                           (list(LOGIN_ROLES),))}
    maintain = conn.info.server_version >= MAINTAIN_VERSION
    with conn.transaction():
        conn.execute(sql_text("schema/create_restore_role"))
        conn.execute(sql_text("schema/create_roles"))
        untracked_utility_statements(conn)
        for role, password in _passwords(settings, created=set(LOGIN_ROLES) - existing).items():
            set_password(conn, role, password)
        for name in ("schema/grant_database_privileges", "schema/reassign_platform_objects",
                     "schema/create_drop_invalid_index", "schema/grant_platform_privileges",
                     "schema/grant_vector_privileges"):
            conn.execute(sql_text(name))
        conn.execute(statement("schema/alter_default_privileges", owner=sql.Identifier(ETL)))
        if maintain:
            conn.execute(statement("schema/alter_default_maintain", owner=sql.Identifier(ETL)))
        if not settings.external_dsn:
            # what the embedded superuser creates is granted only when vectorops recorded creating it (the
            # migration steps run directly, as tests and notebooks do): ownership.record_table grants it
            conn.execute(statement("schema/revoke_default_privileges", owner=sql.Identifier(conn.info.user)))
            if maintain:
                conn.execute(statement("schema/revoke_default_maintain", owner=sql.Identifier(conn.info.user)))
    if not maintain:
        log.warning("PostgreSQL %s has no MAINTAIN privilege (17+): vectorops_maint cannot VACUUM or REINDEX the "
                    "vector tables; point the vectorops_maint connection at vectorops_etl", conn.info.server_version)
    _ensure_restore_template(conn, dsn)


def set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """Let ``role`` log in with ``password``, sent as a SCRAM verifier computed here: the server never sees it in
    clear text.

    :param conn: a connection as a user that may alter the role.
    :param role: the role.
    :param password: its new password.
    """
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
        sql.Identifier(role), sql.Literal(verifier.decode())))


def untracked_utility_statements(conn: psycopg.Connection) -> None:
    """Keep this transaction's ``ALTER ROLE ... PASSWORD`` (a SCRAM verifier) out of ``pg_stat_statements``, which
    ``pg_read_all_stats`` members such as ``vectorops_maint`` may read; a superuser's setting only."""
    conn.execute(sql_text("roles/disable_utility_tracking"))


def _passwords(settings: Settings, created: set[str]) -> dict[str, str]:
    """The password to set per role: from its ``AIRFLOW_CONN_*`` when set, else the local generated one.

    A role that existed before, without a connection here and without a local password, is left out: someone
    else manages its password (e.g. through a secrets backend).
    """
    configured = {role: env_connection_dsn(role) for role in LOGIN_ROLES}
    before = read_local_passwords(settings.home)
    use_local = [r for r in LOGIN_ROLES if configured[r] is None and (r in created or r in before)]
    local = ensure_local_passwords(settings.home) if use_local else before
    passwords = {role: local[role] for role in use_local}
    for role, dsn in configured.items():
        params = conninfo_to_dict(dsn) if dsn else {}
        if dsn and params.get("user") == role and params.get("password"):
            passwords[role] = str(params["password"])
        elif dsn:
            log.info("%s logs in as %r: the password of role %s is left as it is", connection_env(role),
                     params.get("user"), role)
    return passwords


def _ensure_restore_template(conn: psycopg.Connection, dsn: str) -> None:
    """The template database that verified restores clone, with the ``vector`` extension in it.

    Prepared once, when it is created: nobody may be connected to a template while it is cloned.
    """
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (RESTORE_TEMPLATE,)).fetchone():
        return
    name = sql.Identifier(RESTORE_TEMPLATE)
    try:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 IS_TEMPLATE true").format(name))
    except psycopg.errors.DuplicateDatabase:
        return  # another bootstrap is preparing it
    except psycopg.Error as exc:
        log.warning("cannot create %s (%s): backups are verified only where vectorops_maint may create the "
                    "vector extension itself", RESTORE_TEMPLATE, type(exc).__name__)
        return
    conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(name))
    try:
        with connect(make_conninfo(dsn, dbname=RESTORE_TEMPLATE), autocommit=True) as template:
            template.execute(sql_text("schema/create_restore_template"))
    except psycopg.Error as exc:
        log.warning("cannot create the vector extension in %s (%s)", RESTORE_TEMPLATE, type(exc).__name__)
