"""A refused login (wrong password, no such role) is said to be one, naming the user and the server; it is not
reported as a lost database to run again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.cli import main
from vectorops.db.connect import LoginRefused, connect, login_refused
from vectorops.db.roles import READER


@pytest.mark.parametrize("user", [READER, "vectorops_no_such_role"])
def test_a_refused_login_names_the_user_and_the_server(dsn: str, user: str) -> None:
    port = conninfo_to_dict(dsn)["port"]
    with pytest.raises(LoginRefused) as refused:
        connect(make_conninfo(dsn, user=user, password="not-the-password"))
    message = str(refused.value)
    assert len(message.splitlines()) == 1
    assert f"the database at 127.0.0.1:{port} refused the login of user {user!r}" in message
    assert "password authentication failed" in message and "not-the-password" not in message
    assert main.database_lost(refused.value) is None


def test_a_refused_login_through_sqlalchemy_is_recognised(dsn: str) -> None:
    from vectorops.quality.gx import sqlalchemy_url

    engine = sqlalchemy.create_engine(sqlalchemy_url(make_conninfo(dsn, user=READER, password="wrong-password")))
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
            engine.connect()
    finally:
        engine.dispose()
    assert f"refused the login of user {READER!r}" in (login_refused(raised.value) or "")
    assert main.database_lost(raised.value) is None


def test_the_cli_reports_a_refused_login_not_a_lost_database(settings: Any, dsn: str, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VECTOROPS_DSN", make_conninfo(dsn, password="wrong-superuser-password"))
    assert main.main(["validate"]) == 1
    err, details = capsys.readouterr().err.strip().splitlines()  # one line naming the cause, then the log
    assert details.startswith("details: ") and Path(details.removeprefix("details: ")).is_file(), details
    assert err.startswith("vectorops: error: the database at 127.0.0.1:") and "refused the login of user" in err, err
    assert "lost the connection" not in err and "resumes" not in err and "wrong-superuser-password" not in err


def test_a_lost_server_is_still_a_lost_database() -> None:
    refused = psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 1 failed: '
                                       "Connection refused")
    assert login_refused(refused) is None and main.database_lost(refused) is not None
