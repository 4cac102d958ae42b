"""What the ``vectorops`` command says when the database is missing or goes away (deterministic or not)."""

from __future__ import annotations

import re

_MISSING_DATABASE = re.compile(r'FATAL:\s+(database "[^"]*" does not exist)')


def missing_database(exc: BaseException) -> str | None:
    """``database "x" does not exist`` when ``exc`` (or its chain) is a connection refused for that reason."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            if candidate is not None and (match := _MISSING_DATABASE.search(str(candidate))):
                return f"the server says {match.group(1)}"
        current = current.__cause__ or current.__context__
    return None


def database_lost(exc: BaseException) -> str | None:
    """The first line of the connection error in ``exc``'s chain (psycopg's, or SQLAlchemy's around it), or None.

    Only errors of the connection itself count: refused or closed (no SQLSTATE), class 08, or the server shutting
    down (57P01-57P03). A timeout, a lock wait, a refused login (:func:`vectorops.db.login_refused`) or any other
    SQL error is not a lost database.
    """
    import psycopg

    from vectorops.db.connect import login_refused

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
