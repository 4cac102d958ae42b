"""The Chroma server connection: the CLI's ``--chroma-conn`` URL, the connection's fields, the hook's form, and a
request built from a connection, which holds no secret."""

from __future__ import annotations

import base64
import dataclasses
import json
import os

import pytest

from vectorops.chroma import connection
from vectorops.chroma.connection import connection_from_url, server_connection
from vectorops.cli import main, migrate
from vectorops.config import load_settings
from vectorops.errors import SourceError
from vectorops.migration.request import request_from_params

TOKEN = "tok-3f9a!x%y"  # punctuation that needs percent-encoding in a URL


def test_a_https_url_with_a_token_becomes_an_airflow_json_connection() -> None:
    doc = json.loads(connection_from_url("https://chroma.internal:8443/?token=tok-3f9a!x%25y&tenant=acme"
                                         "&database=kb-main&ca_bundle=/etc/ca.pem&verify=true&auth_type=x-chroma-token"))
    assert doc == {"conn_type": "chroma", "host": "chroma.internal", "port": 8443, "login": None, "password": TOKEN,
                   "extra": {"https": True, "tenant": "acme", "database": "kb-main", "ca_bundle": "/etc/ca.pem",
                             "verify": "true", "auth_type": "x-chroma-token"}}


def test_a_url_with_login_and_password_is_basic_auth_over_plain_http() -> None:
    doc = json.loads(connection_from_url("http://reader:p%40ss%3Aw0rd@10.0.0.5:8000"))
    assert (doc["host"], doc["port"], doc["login"], doc["password"]) == ("10.0.0.5", 8000, "reader", "p@ss:w0rd")
    assert doc["extra"] == {"https": False}
    parts = dataclasses.asdict(server_connection("c", doc["host"], doc["port"], doc["login"], doc["password"],
                                                 doc["extra"]))
    assert parts["auth_type"] == "basic" and parts["ssl"] is False


def test_a_url_without_a_port_takes_chromas_port_or_https_port() -> None:
    for url, port in (("http://h/", 8000), ("https://h", 443)):
        doc = json.loads(connection_from_url(url))
        assert server_connection("c", doc["host"], doc["port"], None, None, doc["extra"]).port == port


@pytest.mark.parametrize(("url", "message"), [
    ("chroma.internal:8000", "must look like"),
    ("ftp://h:21/", "must look like"),
    ("https://:8000/", "must look like"),
    ("https://h:99999/?token=abcdef", "port"),
    ("https://h:8000/?token=abcdef&tennant=acme", "unknown parameter.*tennant"),
    ("https://h:8000/acme/kb?token=abcdef", "has a path"),
    ("https://u:secretpw@h:8000/?token=abcdef", "both a password and"),
    ("https://h:8000/?token=abcdef&verify=maybe", "'verify'"),
    ("https://h:8000/?token=abcdef&auth_type=digest", "'auth_type'"),
    ("https://h:8000/?token=abc%20def", "token"),
])
def test_a_bad_url_is_rejected_without_echoing_it(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        connection_from_url(url)
    assert "abcdef" not in str(raised.value) and "secretpw" not in str(raised.value)


def test_the_cli_keeps_an_id_and_turns_a_url_into_a_process_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_VECTOROPS_CLI_CHROMA", raising=False)
    assert migrate.chroma_conn_id("chroma_prod") == "chroma_prod" and migrate.chroma_conn_id(None) is None
    assert "AIRFLOW_CONN_VECTOROPS_CLI_CHROMA" not in os.environ
    args = main.build_parser().parse_args(["migrate", "--chroma-conn", "https://h:9443/?token=s3cret-t0ken&tenant=t1"])
    params = migrate._params(args)
    assert params["chroma_conn"] == migrate.CLI_CHROMA_CONN and "s3cret" not in json.dumps(params)
    assert json.loads(os.environ["AIRFLOW_CONN_VECTOROPS_CLI_CHROMA"])["password"] == "s3cret-t0ken"
    with pytest.raises(SystemExit):  # one source at a time
        main.build_parser().parse_args(["migrate", "--chroma-conn", "c", "--chroma-path", "/x"])


def test_a_request_from_a_connection_holds_where_but_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CHROMA_UNIT", json.dumps({
        "conn_type": "chroma", "host": "chroma.internal", "port": 9443, "login": None, "password": "s3cret-t0ken",
        "extra": {"https": "true", "tenant": "acme", "database": "kb-main", "ca_bundle": "/etc/ca.pem"}}))
    settings = dataclasses.replace(load_settings(), chroma_path=None)
    request = request_from_params({"chroma_conn": "chroma_unit", "chroma_port": 8000}, settings)
    assert dataclasses.asdict(request.source) == {"path": None, "host": "chroma.internal", "port": 9443,
                                                  "conn_id": "chroma_unit", "ssl": True, "tenant": "acme",
                                                  "database": "kb-main"}
    assert "s3cret" not in repr(request) and "ca.pem" not in repr(request)


def test_a_missing_connection_or_two_sources_fail_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CHROMA_NOWHERE", raising=False)
    settings = dataclasses.replace(load_settings(), chroma_path=None)
    with pytest.raises(SourceError, match=r"connection 'chroma_nowhere' .*not defined.*AIRFLOW_CONN_CHROMA_NOWHERE"):
        request_from_params({"chroma_conn": "chroma_nowhere"}, settings)
    with pytest.raises(ValueError, match="chroma_conn='c' and chroma_host='h'"):
        request_from_params({"chroma_conn": "c", "chroma_host": "h"}, settings)


@pytest.mark.parametrize(("auth_type", "login", "header", "value"), [
    ("x-chroma-token", None, "X-Chroma-Token", TOKEN),
    ("bearer", None, "Authorization", f"Bearer {TOKEN}"),
    (None, None, "Authorization", f"Bearer {TOKEN}"),
    ("basic", "reader", "Authorization", "Basic " + base64.b64encode(f"reader:{TOKEN}".encode()).decode()),
    (None, "reader", "Authorization", "Basic " + base64.b64encode(f"reader:{TOKEN}".encode()).decode()),
])
def test_the_auth_header_is_the_one_chromas_client_providers_send(auth_type: str | None, login: str | None,
                                                                    header: str, value: str) -> None:
    conn = server_connection("c", "h", 8000, login, TOKEN, {"auth_type": auth_type})
    assert conn.headers() == {header: value}
    assert TOKEN not in repr(conn)


def test_connection_fields_are_checked_and_defaulted() -> None:
    conn = server_connection("c", "https://chroma.example.com/", None, None, None,
                             {"extra__chroma__tenant": "acme", "verify": "false"})
    assert (conn.host, conn.port, conn.ssl, conn.tenant, conn.verify, conn.headers()) == (
        "chroma.example.com", 443, True, "acme", False, {})
    for extra, message in (({"https": "maybe"}, "'https'"), ({"auth_type": "digest"}, "'auth_type'"),
                           ({"tenant": 5}, "'tenant'")):
        with pytest.raises(SourceError, match=message):
            server_connection("c", "h", None, None, None, extra)
    with pytest.raises(SourceError, match="no host"):
        server_connection("c", "", None, None, None, {})
    with pytest.raises(SourceError, match="token") as raised:
        server_connection("c", "h", None, None, "bad token", {})
    assert "bad token" not in str(raised.value)


def test_the_hook_declares_the_chroma_connection_type_and_its_form() -> None:
    from vectorops.airflow.chroma_hook import ChromaHook
    from vectorops.airflow.provider_info import get_provider_info

    assert (ChromaHook.conn_name_attr, ChromaHook.default_conn_name, ChromaHook.conn_type, ChromaHook.hook_name) == (
        "chroma_conn_id", "chroma_default", "chroma", "Chroma")
    (entry,) = get_provider_info()["connection-types"]
    assert entry["hook-class-name"] == f"{ChromaHook.__module__}.{ChromaHook.__qualname__}"
    assert set(entry["conn-fields"]) == {"tenant", "database", "https", "ca_bundle", "verify", "auth_type"}
    # empty is a choice of its own: basic with a login, else bearer
    assert entry["conn-fields"]["auth_type"]["schema"]["enum"] == [*connection.AUTH_TYPES, None]
    assert "default" not in entry["conn-fields"]["auth_type"]["schema"]
    behaviour = ChromaHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["schema"] and behaviour["relabeling"]["password"] == "Password (token)"


def test_airflow_discovers_the_chroma_connection_type_from_the_installed_package() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["chroma"]
    assert (hook.hook_class_name, hook.connection_id_attribute_name) == ("vectorops.airflow.chroma_hook.ChromaHook",
                                                                          "chroma_conn_id")
    manager = ProvidersManager()  # the API server's form
    assert {k for k in manager.connection_form_widgets if k.startswith("extra__chroma__")} == {
        f"extra__chroma__{f}" for f in ("tenant", "database", "https", "ca_bundle", "verify", "auth_type")}
    assert manager.field_behaviours["chroma"]["relabeling"] == {"login": "Login (basic auth only)",
                                                                "password": "Password (token)"}


def test_reading_a_connection_masks_its_password_and_the_basic_header_built_from_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    monkeypatch.setenv("AIRFLOW_CONN_CHROMA_MASKED", json.dumps({
        "conn_type": "chroma", "host": "h", "login": "reader", "password": "masked-Secret-42"}))
    conn = connection.read_connection("chroma_masked")
    header = conn.headers()["Authorization"]
    assert redact(f"sent {header} for masked-Secret-42") == "sent *** for ***"
