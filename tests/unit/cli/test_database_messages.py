"""cli/errors on real PostgreSQL failures: a missing database, a lost connection, and what is neither."""

from __future__ import annotations

import socket

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.cli.errors import database_lost, missing_database


def _failure(conninfo: str) -> psycopg.OperationalError:
    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect(conninfo, connect_timeout=5).close()
    return raised.value


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_missing_database_is_named_even_down_the_chain(dsn: str) -> None:
    error = _failure(make_conninfo(dsn, dbname="unit_no_such_db"))
    assert missing_database(error) == 'the server says database "unit_no_such_db" does not exist'
    try:
        try:
            raise error
        except psycopg.OperationalError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as outer:
        assert missing_database(outer) == 'the server says database "unit_no_such_db" does not exist'


def test_other_failures_are_not_a_missing_database(dsn: str) -> None:
    assert missing_database(_failure(make_conninfo(dsn, port=_closed_port()))) is None
    assert missing_database(ValueError("database \"x\" does not exist")) is None


def test_a_refused_connection_is_a_lost_database(dsn: str) -> None:
    port = _closed_port()
    lost = database_lost(_failure(make_conninfo(dsn, host="127.0.0.1", port=port)))
    assert lost is not None and str(port) in lost and "\n" not in lost


def test_a_terminated_session_is_a_lost_database(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as victim, psycopg.connect(dsn, autocommit=True) as admin:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError) as raised:
            victim.execute("SELECT 1")
    assert database_lost(raised.value) is not None


def test_sql_errors_and_refused_logins_are_not_a_lost_database(dsn: str) -> None:
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.Error) as raised:
        conn.execute("SELEC 1")
    assert database_lost(raised.value) is None
    wrong = conninfo_to_dict(dsn) | {"password": "not-the-password"}
    assert database_lost(_failure(make_conninfo(**wrong))) is None
    assert database_lost(RuntimeError("no database involved")) is None
