"""The one row of a query that always returns one (``SELECT count(*)``, ``INSERT ... RETURNING``, ``to_regclass``).

psycopg types ``fetchone()`` as ``row | None``; these say that ``None`` there means something went wrong (a row
deleted by a concurrent session, a statement that changed), and raise a clear error instead of indexing ``None``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg

Row = TypeVar("Row")


class NoRow(LookupError):
    """A query that always returns a row returned none. Not a :class:`~vectorops.errors.VectoropsError`: it means
    a bug or a concurrent change, nothing a user can fix."""


def one_row(cur: psycopg.Cursor[Row]) -> Row:
    """The first row of ``cur``'s result.

    :param cur: a cursor that has executed a query returning at least one row.
    :raises NoRow: when the result has no row.
    """
    row = cur.fetchone()
    if row is None:
        raise NoRow(f"expected a row, the query returned none ({cur.statusmessage or 'no status'})")
    return row


def one_value(cur: psycopg.Cursor[Any]) -> Any:
    """The first column of the first row of ``cur``'s result (``cur.execute(...).fetchone()[0]``, checked).

    :param cur: a cursor that has executed a query returning at least one row.
    :raises NoRow: when the result has no row.
    """
    return one_row(cur)[0]
