"""The CLI's one-line message when the database goes away, and only then."""

from __future__ import annotations

import psycopg
import pytest

from vectorops.cli.main import database_lost


def test_a_server_shutting_down_is_a_lost_database() -> None:
    assert database_lost(psycopg.errors.AdminShutdown("terminating connection due to administrator command")) == (
        "terminating connection due to administrator command")


def test_a_refused_connection_is_a_lost_database_even_wrapped_by_another_error() -> None:
    refused = psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 1 failed\nhint')

    class Wrapper(Exception):  # how SQLAlchemy carries the driver's error
        orig = refused

    try:
        try:
            raise Wrapper("(psycopg.OperationalError) connection failed")
        except Wrapper as exc:
            raise RuntimeError("task failed") from exc
    except RuntimeError as outer:
        assert database_lost(outer) == 'connection failed: connection to server at "127.0.0.1", port 1 failed'


@pytest.mark.parametrize("error", [psycopg.errors.UndefinedTable("relation x does not exist"), ValueError("x"),
                                   psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
                                   psycopg.errors.LockNotAvailable("could not obtain lock")])
def test_an_sql_or_other_error_is_not_a_lost_database(error: Exception) -> None:
    assert database_lost(error) is None
