"""AIRFLOW_CONN_* values parsed by Airflow's own parser, read as Airflow's secrets backends read them (real Airflow)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from vectorops.airflow.connections import (
    ConnectionParts,
    airflow_connection,
    airflow_loaded,
    find_airflow_connection,
    mask_secret,
    parse_connection,
)

URIS = [
    "postgres://us%40er:pa%2Fss%3Aword@host.example:5432/db%2Fname?sslmode=require",
    "postgres://u:p@Host.Example/db",
    "postgres://u:p@%2Ftmp%2Fsock/db",
    "postgres://:@h/db",
    "smtp://alerts:secret@mail.example:587",
    "smtp-ssl://mail.example",
    "http://https%3A%2F%2Fairflow.example:8080",
    "google-cloud-platform://?__extra__=%7B%22a%22%3A+1%2C+%22b%22%3A+%5B1%5D%7D",
    "postgres://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&options=-c%20search_path%3Dx",
]
JSONS = [
    {"conn_type": "postgres", "host": "h", "port": 5432, "login": "u", "password": "p", "schema": "db",
     "extra": {"sslmode": "require"}},
    {"conn_type": "smtp", "host": "h", "port": "25", "login": "u", "password": "p", "extra": json.dumps({"b": [1]})},
    {"conn_type": "smtp", "host": "h"},
    {"conn_type": "postgres", "host": "h", "port": "", "login": "", "password": "", "schema": "", "extra": ""},
]


def _airflow(conn: Connection) -> tuple[Any, ...]:
    return (conn.conn_type or "", conn.host or "", conn.port, conn.login or None, conn.password or None,
            conn.schema or None, conn.extra_dejson)


def _ours(parts: ConnectionParts) -> tuple[Any, ...]:
    return (parts.conn_type, parts.host, parts.port, parts.login, parts.password, parts.schema, parts.extra)


@pytest.mark.parametrize("uri", URIS)
def test_a_uri_parses_as_airflow_parses_it(uri: str) -> None:
    assert _ours(parse_connection(uri)) == _airflow(Connection.from_uri(uri, conn_id="unit"))


@pytest.mark.parametrize("doc", JSONS)
def test_airflow_json_parses_as_airflow_parses_it(doc: dict[str, Any]) -> None:
    value = json.dumps(doc)
    assert _ours(parse_connection(value)) == _airflow(Connection.from_json(value, conn_id="unit"))


def test_the_postgresql_scheme_is_airflows_postgres() -> None:
    assert parse_connection("postgresql://u:p@h/db").conn_type == "postgres"


def test_uri_query_values_stay_strings_as_airflow_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # the hand-written parser read disable_ssl=false as False, where Airflow (and so SmtpHook) reads 'false'
    value = "smtp://alerts:smtp-secret@mail.example:587?disable_ssl=false&timeout=30"
    parsed = parse_connection(value)
    assert parsed.extra == {"disable_ssl": "false", "timeout": "30"}
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_SMTP_FLAGS", value)
    assert airflow_connection("unit_smtp_flags") == parsed


def test_a_json_connection_keeps_every_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"sslmode": "verify-full", "gssencmode": "disable", "tcp_user_timeout": 9000, "keepalives_interval": 7,
             "channel_binding": "prefer", "nested": {"a": [1, True]}}
    value = json.dumps({"conn_type": "postgres", "host": "h", "login": "u", "password": "p", "extra": extra})
    assert parse_connection(value).extra == extra
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_JSON_EXTRAS", value)
    assert airflow_connection("unit_json_extras") == parse_connection(value)


@pytest.mark.parametrize("value", ["not a uri", "host:5432", "/just/a/path", "[1, 2]", "{not json",
                                   '{"host": "h", "extra": "[1]"}', "postgres://h/?__extra__=%5B1%5D",
                                   "postgres://h:notaport/db", '{"host": "h", "extra": "{oops"}',
                                   '{"host": "h", "bogus_field": 1}', "a://u:pw-in-uri-h8@b://c://d"])
def test_neither_form_raises_a_value_or_type_error(value: str) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        _ours(parse_connection(value))
    assert "pw-in-uri-h8" not in str(raised.value)


def test_the_password_is_not_in_the_repr() -> None:
    parts = parse_connection("postgres://u:hunter2-secret@h/db")
    assert parts.password == "hunter2-secret"
    assert "hunter2-secret" not in repr(parts)


def test_airflow_reads_a_connection_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_CONNECTIONS", "postgres://u:secret-pw@h.example:5433/db?sslmode=require")
    read = airflow_connection("unit_connections")
    assert _ours(read) == ("postgres", "h.example", 5433, "u", "secret-pw", "db", {"sslmode": "require"})
    assert find_airflow_connection("unit_connections") == read
    assert find_airflow_connection("unit_connections_not_defined") is None
    assert airflow_loaded()
    from airflow.sdk.log import redact

    assert redact("pw masked-value-unit-h8 end") == "pw masked-value-unit-h8 end"
    mask_secret("masked-value-unit-h8")  # inside Airflow: handed to its masker
    mask_secret(None)
    assert redact("pw masked-value-unit-h8 end") == "pw *** end"
