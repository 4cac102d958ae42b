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
    """:func:`vectorops.db.connect.database_lost`, imported only when an error is reported: parsing the command line
    does not import psycopg."""
    from vectorops.db.connect import database_lost as lost

    return lost(exc)
