"""Connections, SQL files from ``include/sql`` and the one-time database bootstrap."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from vectorops import runtime
from vectorops.config import Settings


def sql_dir() -> Path:
    """``include/sql`` of this checkout, or ``VECTOROPS_SQL_DIR``."""
    override = os.environ.get("VECTOROPS_SQL_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "include" / "sql"


@cache
def sql_text(name: str) -> str:
    """Text of ``include/sql/<name>.sql``, e.g. ``sql_text("load/copy_records")``."""
    return (sql_dir() / f"{name}.sql").read_text()


def statement(name: str, **parts: sql.Composable) -> sql.Composed:
    """A statement from ``include/sql/<name>.sql`` with its ``{placeholders}`` composed safely.

    :param name: file path under ``include/sql`` without ``.sql``.
    :param parts: identifiers (``sql.Identifier``) or literals (``sql.Literal``) for the placeholders.
    """
    return sql.SQL(sql_text(name)).format(**parts)  # type: ignore[arg-type]


class LoginRefused(psycopg.OperationalError):
    """The server refused the login (SQLSTATE 28P01 / 28000: a wrong password, no such role, no ``pg_hba.conf``
    entry). Deterministic: retrying cannot help, and the database did not go away."""


# libpq reports a refused login without a SQLSTATE: the server's FATAL message is all there is
_REFUSED_LOGIN = re.compile(r"FATAL:\s+(?:password authentication failed for user|"
                            r"role \"[^\"]*\" (?:does not exist|is not permitted to log in)|"
                            r"no pg_hba\.conf entry|\S+ authentication failed for user)")
_REFUSED_STATES = {"28P01", "28000"}


def login_refused(exc: BaseException) -> str | None:
    """One line naming the user and the server when ``exc`` (or an error in its chain, psycopg's or SQLAlchemy's
    around it) is a refused login; else ``None``.

    :param exc: any error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):  # SQLAlchemy's DBAPIError wraps the driver's
            if isinstance(candidate, LoginRefused):
                return str(candidate)
            # libpq's own connection failures carry no SQLSTATE; an error of a session that had logged in does
            if isinstance(candidate, psycopg.OperationalError) and (
                    candidate.sqlstate in _REFUSED_STATES
                    or (candidate.sqlstate is None and _REFUSED_LOGIN.search(str(candidate)))):
                return _refused_line(candidate)
        current = current.__cause__ or current.__context__
    return None


def _refused_line(exc: psycopg.OperationalError) -> str:
    pgconn = exc.pgconn
    user = pgconn.user.decode(errors="replace") if pgconn is not None and pgconn.user else "?"
    host = pgconn.host.decode(errors="replace") if pgconn is not None and pgconn.host else "?"
    port = pgconn.port.decode(errors="replace") if pgconn is not None and pgconn.port else "?"
    text = " ".join(str(exc).split())
    reason = text[text.index("FATAL:") + 6:].strip() if "FATAL:" in text else text
    return (f"the database at {host}:{port} refused the login of user {user!r} ({reason}): check that user's "
            "password or role (its Airflow connection, VECTOROPS_DSN or `vectorops db up`); retrying will not help")


def connect(dsn: str, *, autocommit: bool = False, application_name: str = "vectorops",
            lock_timeout_ms: int | None = None, statement_timeout_s: int | None = None) -> psycopg.Connection:
    """Open a connection with the settings every vectorops session uses.

    :param lock_timeout_ms: ``lock_timeout`` of the session, when given.
    :param statement_timeout_s: ``statement_timeout`` of the session, when given.
    :raises LoginRefused: naming the user and the server, when the server refuses the login.
    """
    options = [conninfo_to_dict(dsn).get("options") or ""]  # keep the DSN's own options
    if lock_timeout_ms is not None:
        options.append(f"-c lock_timeout={int(lock_timeout_ms)}")
    if statement_timeout_s is not None:
        options.append(f"-c statement_timeout={int(statement_timeout_s) * 1000}")
    extra = {"options": " ".join(o for o in options if o)} if len(options) > 1 else {}
    try:
        return psycopg.connect(dsn, autocommit=autocommit, application_name=application_name, connect_timeout=15,
                               **extra)
    except psycopg.OperationalError as exc:
        if (refused := login_refused(exc)) is not None:
            raise LoginRefused(refused) from exc
        raise


def bootstrap(settings: Settings) -> str:
    """Start (or reuse) the server and make sure databases, extensions, platform tables and roles exist.

    Idempotent, and serialised between processes by an advisory lock. With ``VECTOROPS_DSN`` set only the
    extension and schema are created there. When the user may create roles, the least-privilege roles are created
    and granted too (:mod:`vectorops.db_role_grants`); a migration, which bootstraps as ``vectorops_etl``, skips that.

    :return: the DSN of the vectors database.
    """
    from vectorops import db_role_grants

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
        if db_role_grants.can_manage_roles(conn):
            db_role_grants.setup_roles(conn, settings, target)
    return target
