"""db/dsn: role and target connections read by Airflow and the postgres provider (real PostgreSQL, no mocks)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from vectorops.config import Settings
from vectorops.db.dsn import configured_dsn, env_connection_dsn, local_dsn, role_dsn, settings_as, target_dsn
from vectorops.db.roles import ETL, READER, read_local_passwords
from vectorops.errors import SettingError


def _json_conn(dsn: str, **extra: Any) -> str:
    params = conninfo_to_dict(dsn)
    return json.dumps({"conn_type": "postgres", "host": params["host"], "port": int(str(params["port"])),
                       "login": params["user"], "password": params["password"], "schema": params["dbname"],
                       "extra": extra})


def test_a_role_connects_with_every_libpq_extra_of_its_json_connection(settings: Settings, dsn: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # none of these was in the hand-written list of extras
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_READER", _json_conn(
        dsn, application_name="unit-dsn-h8", tcp_user_timeout=15000, keepalives_interval=5, gssencmode="disable",
        options="-c work_mem=7MB"))
    with psycopg.connect(role_dsn(settings, READER)) as conn:
        used = conn.info.get_parameters()
        assert (used["application_name"], used["tcp_user_timeout"], used["keepalives_interval"]) == \
            ("unit-dsn-h8", "15000", "5")
        assert conn.execute("SELECT current_user, current_setting('work_mem')").fetchone() == ("vectorops", "7MB")
    assert conninfo_to_dict(env_connection_dsn(READER) or "")["gssencmode"] == "disable"


@pytest.mark.parametrize(("value", "why"), [
    ("smtp://u:pw-dsn-h8@mail.example", "its type is 'smtp', not postgres"),
    ("postgresql://u:pw-dsn-h8@h:notaport/db", "Port could not be cast"),
    ('{"conn_type": "postgres", "host": "h", "password": "pw-dsn-h8", "extra": {"sslmod": "require"}}',
     'invalid connection option "sslmod"'),
    ("vectorops_etl:pw-dsn-h8@db", "not a connection URI"),
])
def test_an_unusable_role_connection_is_one_line_naming_its_variable(value: str, why: str, settings: Settings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_ETL", value)
    with pytest.raises(SettingError) as raised:
        settings_as(ETL, settings)
    message = str(raised.value)
    assert message.startswith("AIRFLOW_CONN_VECTOROPS_ETL is not a usable PostgreSQL connection: ")
    assert why in message and "pw-dsn-h8" not in message and "\n" not in message


def test_an_iam_role_connection_declares_its_login_and_connects_with_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_ETL", "postgres://vectorops_etl@db.example:5432/vectors?iam=true"
                                                     "&aws_conn_id=aws_prod&sslmode=verify-full")
    assert conninfo_to_dict(env_connection_dsn(ETL) or "") == {
        "host": "db.example", "port": "5432", "user": "vectorops_etl", "dbname": "vectors", "sslmode": "verify-full"}
    with pytest.raises(SettingError, match=r"AIRFLOW_CONN_VECTOROPS_ETL .* apache-airflow-providers-amazon"):
        configured_dsn(ETL)  # the token needs the amazon provider, not installed here


def test_vectorops_postgres_is_the_target_of_the_roles_local_passwords(settings: Settings, dsn: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert target_dsn(settings) == dsn  # no connection: VECTOROPS_DSN / the embedded server
    params = conninfo_to_dict(dsn)
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_POSTGRES", f"postgres://{params['user']}:{params['password']}@"
                                                          f"localhost:{params['port']}/vectorops?application_name=tgt")
    # without VECTOROPS_DSN the connection is the target, and with one naming the same database too
    elsewhere = replace(settings, external_dsn=None)
    assert conninfo_to_dict(target_dsn(elsewhere))["host"] == "localhost"
    same = replace(settings, external_dsn=f"postgresql://someone:pw-dsn-h8@localhost:{params['port']}/vectorops")
    assert target_dsn(same) == target_dsn(elsewhere)
    reader = conninfo_to_dict(local_dsn(elsewhere, READER))
    assert (reader["host"], reader["user"], reader["password"]) == \
        ("localhost", READER, read_local_passwords(settings.home)[READER])
    with psycopg.connect(settings_as(READER, elsewhere).external_dsn or "") as conn:
        assert conn.execute("SELECT current_user, current_setting('application_name')").fetchone() == (READER, "tgt")


def test_an_unusable_target_connection_names_its_variable(settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_POSTGRES", "http://admin:pw-dsn-h8@airflow.example")
    with pytest.raises(SettingError) as raised:
        role_dsn(settings, READER)
    assert str(raised.value) == ("AIRFLOW_CONN_VECTOROPS_POSTGRES is not a usable PostgreSQL connection: its type is "
                                 "'http', not postgres")


def test_a_target_connection_and_vectorops_dsn_naming_two_databases_are_refused(
        settings: Settings, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_POSTGRES", "postgres://u:pw-dsn-h8@db.internal/vectors")
    other = replace(settings, external_dsn="postgresql://u:pw-dsn-h8@127.0.0.1:6543/vectorops")
    with pytest.raises(SettingError) as raised:
        settings_as(READER, other)
    assert str(raised.value) == ("the vectorops_postgres connection (db.internal:5432/vectors) and VECTOROPS_DSN "
                                 "(localhost:6543/vectorops) name different databases: point them at the same one, "
                                 "or unset one of them")


def test_this_machine_spelled_two_ways_is_one_database(settings: Settings, dsn: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_POSTGRES", f"postgres://{params['user']}:{params['password']}@localhost:"
                                                          f"{params['port']}/{params['dbname']}")
    same = replace(settings, external_dsn=dsn.replace("127.0.0.1", "localhost").replace("localhost", "127.0.0.1"))
    assert "127.0.0.1" in (same.external_dsn or "")
    assert settings_as(READER, same).external_dsn
