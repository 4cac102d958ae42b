"""one_row / one_value on real queries: the row when there is one, NoRow naming the statement's status if not."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from vectorops.db.rows import NoRow, one_row, one_value
from vectorops.errors import VectoropsError


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn) as connection:
        yield connection
        connection.rollback()


def test_the_first_row_and_its_first_value(conn: psycopg.Connection) -> None:
    assert one_row(conn.execute("SELECT 1, 'a' UNION ALL SELECT 2, 'b' ORDER BY 1")) == (1, "a")
    assert one_value(conn.execute("SELECT count(*) FROM generate_series(1, 3)")) == 3
    assert one_value(conn.execute("SELECT NULL::int")) is None


def test_no_row_names_the_status(conn: psycopg.Connection) -> None:
    with pytest.raises(NoRow, match=r"\(SELECT 0\)"):
        one_row(conn.execute("SELECT 1 WHERE false"))
    conn.execute("CREATE TEMP TABLE unit_rows (n int)")
    with pytest.raises(NoRow, match=r"\(UPDATE 0\)"):
        one_value(conn.execute("UPDATE unit_rows SET n = 1 RETURNING n"))


def test_no_row_is_a_lookup_error_not_a_user_error() -> None:
    assert issubclass(NoRow, LookupError)
    assert not issubclass(NoRow, VectoropsError)
