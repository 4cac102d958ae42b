"""Connections with the settings every vectorops session uses, and the one-line error of a refused login."""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict


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
    options = [str(conninfo_to_dict(dsn).get("options") or "")]  # keep the DSN's own options
    if lock_timeout_ms is not None:
        options.append(f"-c lock_timeout={int(lock_timeout_ms)}")
    if statement_timeout_s is not None:
        options.append(f"-c statement_timeout={int(statement_timeout_s) * 1000}")
    # None leaves the DSN's options as they are (psycopg drops parameters that are None)
    joined = " ".join(o for o in options if o) if len(options) > 1 else None
    try:
        return psycopg.connect(dsn, autocommit=autocommit, application_name=application_name, connect_timeout=15,
                               options=joined)
    except psycopg.OperationalError as exc:
        if (refused := login_refused(exc)) is not None:
            raise LoginRefused(refused) from exc
        raise


def database_lost(exc: BaseException) -> str | None:
    """The first line of the connection error in ``exc``'s chain (psycopg's, or SQLAlchemy's around it), or None.

    Only errors of the connection itself count: refused or closed (no SQLSTATE), class 08, or the server shutting
    down (57P01-57P03). A timeout, a lock wait, a refused login (:func:`vectorops.db.login_refused`) or any other
    SQL error is not a lost database.
    """
    if login_refused(exc) is not None:
        return None

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        original = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        for candidate in (current, original):
            if isinstance(candidate, psycopg.OperationalError) and _is_connection_state(candidate.sqlstate):
                return (str(candidate).strip().splitlines() or [type(candidate).__name__])[0]
        current = current.__cause__ or current.__context__
    return None


def _is_connection_state(sqlstate: str | None) -> bool:
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}
