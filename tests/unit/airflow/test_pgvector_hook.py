"""PgvectorTargetHook: its libpq string is what PostgresHook connects with (real PostgreSQL, real Airflow)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook
from psycopg.conninfo import conninfo_to_dict

from vectorops.airflow.connections import TARGET_CONN_ID, postgres_conninfo
from vectorops.airflow.pgvector_hook import PgvectorTargetHook

EXTRAS = {"application_name": "unit-hook-h8", "connect_timeout": 7, "keepalives_idle": 31, "keepalives_interval": 9,
          "tcp_user_timeout": 12000, "gssencmode": "disable", "sslmode": "disable", "target_session_attrs": "any",
          "options": "-c statement_timeout=4321", "cursor": "dictcursor", "sqlalchemy_scheme": "postgresql+psycopg"}


def _json(dsn: str, **extra: Any) -> str:
    params = conninfo_to_dict(dsn)
    return json.dumps({"conn_type": "postgres", "host": params["host"], "port": int(str(params["port"])),
                       "login": params["user"], "password": params["password"], "schema": params["dbname"],
                       "extra": extra})


def test_the_default_connection_is_vectorops_postgres() -> None:
    assert PgvectorTargetHook.default_conn_name == TARGET_CONN_ID == "vectorops_postgres"
    assert PgvectorTargetHook().postgres_conn_id == "vectorops_postgres"


def test_conninfo_is_what_postgres_hook_connects_with(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_TARGET", _json(dsn, **EXTRAS))
    theirs = PostgresHook(postgres_conn_id="unit_target").get_conn()
    conninfo = PgvectorTargetHook(postgres_conn_id="unit_target").conninfo()
    try:
        with psycopg.connect(conninfo) as ours:
            assert ours.info.get_parameters() == theirs.info.get_parameters()
            assert ours.info.get_parameters()["application_name"] == "unit-hook-h8"
            assert ours.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
    finally:
        theirs.close()
    params = conninfo_to_dict(conninfo)
    # the provider's own extras never reach libpq; every libpq one does, as given
    assert not {"cursor", "sqlalchemy_scheme"} & set(params)
    assert {key: params[key] for key in ("tcp_user_timeout", "keepalives_interval", "gssencmode")} == \
        {"tcp_user_timeout": "12000", "keepalives_interval": "9", "gssencmode": "disable"}


def test_a_connection_without_a_database_targets_vectorops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_NO_DB", "postgres://u:p@db.example:6543")
    assert conninfo_to_dict(postgres_conninfo("unit_no_db") or "") == \
        {"host": "db.example", "port": "6543", "user": "u", "password": "p", "dbname": "vectorops"}


def test_an_iam_connection_asks_the_provider_for_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_IAM", json.dumps({
        "conn_type": "postgres", "host": "db.example", "login": "vectorops_etl", "schema": "vectors",
        "extra": {"iam": True, "aws_conn_id": "aws_prod", "sslmode": "verify-full"}}))
    # without the amazon provider (not installed here) the token cannot be had: one line saying which provider
    with pytest.raises(ValueError, match="apache-airflow-providers-amazon"):
        postgres_conninfo("unit_iam")
    declared = conninfo_to_dict(postgres_conninfo("unit_iam", iam=False) or "")
    assert declared == {"host": "db.example", "user": "vectorops_etl", "dbname": "vectors",
                        "sslmode": "verify-full"}


@pytest.mark.parametrize(("value", "message"), [
    ("smtp://u:pw-unit-h8@mail.example", "its type is 'smtp', not postgres"),
    ('{"conn_type": "postgres", "login": "u", "password": "pw-unit-h8"}', "it has no host"),
    ('{"conn_type": "postgres", "host": "h", "password": "pw-unit-h8", "extra": {"sllmode": "require"}}',
     'invalid connection option "sllmode"'),
])
def test_an_unusable_connection_is_one_line(value: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        postgres_conninfo("unit_bad", value=value)
    assert message in str(raised.value)
    assert "pw-unit-h8" not in str(raised.value) and "\n" not in str(raised.value)


def test_an_undefined_connection_is_none() -> None:
    assert postgres_conninfo("unit_never_defined_h8") is None


def test_a_json_boolean_extra_reaches_libpq_as_one_or_zero(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_TARGET", _json(dsn, keepalives=True, sslmode="disable"))
    conninfo = PgvectorTargetHook(postgres_conn_id="unit_target").conninfo()
    assert conninfo_to_dict(conninfo)["keepalives"] == "1"
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
