"""Credentials never leave in an alert or a log line: texts, payloads, errors and the secrets of the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorops import redaction
from vectorops.db.roles import local_passwords_path
from vectorops.redaction import REDACTED, describe_error, dsn_password, known_secrets, redact, redact_text


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no secrets in it, and an empty VECTOROPS_HOME."""
    import os

    for name in list(os.environ):
        if name.upper().endswith(("PASSWORD", "SECRET", "TOKEN", "KEY")) or name.startswith("AIRFLOW_CONN_") \
                or name in ("VECTOROPS_DSN", "VECTOROPS_ALERT_WEBHOOK", "VECTOROPS_ALERT_SLACK_WEBHOOK"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VECTOROPS_HOME", str(tmp_path))
    monkeypatch.setattr(redaction, "_REMEMBERED", set())
    return monkeypatch


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://etl:s3cr%40t@db:5432/vectors", "postgresql://etl:***@db:5432/vectors"),
    ("see https://user:pw@host/x and redis://:only@cache:6379/0", "see https://user:***@host/x and redis://:***@cache:6379/0"),
    ("host=db password=hunter22 user=etl", "host=db password=*** user=etl"),
    ("PGPASSWORD='a b c' next", "PGPASSWORD=*** next"),
    ('{"api_token": "abcd", "x": 1}', '{"api_token": ***, "x": 1}'),  # the quotes go too
    ("secret: xyz; other", "secret: ***; other"),
    ("https://host/path?user=a&password=b&x=1", "https://host/path?user=a&password=***&x=1"),
    ("nothing to hide here: http://host:8080/path", "nothing to hide here: http://host:8080/path"),
])
def test_patterns(text: str, expected: str) -> None:
    assert redact_text(text, set()) == expected


@pytest.mark.parametrize("order", [("abcdef", "abcdefgh", "abcdefghij"), ("abcdefghij", "abcdefgh", "abcdef")])
def test_literal_secrets_longest_first(order: tuple[str, ...]) -> None:
    """A secret whose prefix is a secret too is hidden whole, whatever order the masker got them in."""
    for value in order:
        redact_text("", {value})
    assert redact_text("abcdefghij and abcdefgh and abcdef", set()) == f"{REDACTED} and {REDACTED} and {REDACTED}"


def test_payloads_recursively() -> None:
    payload = {"collection": "docs", "password": "p4ss", "api_key": "k3y", "nested": [{"url": "pg://u:pw@h/d"}],
               "token": "", "count": 3, "tuple": ("a known-secret b",), "credentials": {"user": "x"}}
    assert redact(payload, {"known-secret"}) == {
        "collection": "docs", "password": REDACTED, "api_key": REDACTED, "nested": [{"url": "pg://u:***@h/d"}],
        "token": REDACTED, "count": 3, "tuple": [f"a {REDACTED} b"], "credentials": {"user": "x"}}


def test_fields_airflow_deems_secret_are_hidden_whole() -> None:
    """Airflow's masker knows key names the hand-written list missed; their values go whole, nested or not."""
    payload = {"observed": {"dsn": "host=db user=etl dbname=v", "Authorization": "Bearer eyJhbGciOi",
                            "webhook_url": "https://hooks.example.com/T0/B0/XYZ", "private_key": "-----BEGIN KEY",
                            "connection_string": "Server=db;Uid=etl", "extra": [{"X-Api-Key": "k-123456"}]},
               "message": "nothing secret here"}
    assert redact(payload, set()) == {
        "observed": {"dsn": REDACTED, "Authorization": REDACTED, "webhook_url": REDACTED, "private_key": REDACTED,
                     "connection_string": REDACTED, "extra": [{"X-Api-Key": REDACTED}]},
        "message": "nothing secret here"}


def test_a_secret_redacted_here_is_hidden_from_airflows_own_logs() -> None:
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    assert redact_text("uses registered-by-vectorops-1", {"registered-by-vectorops-1"}) == f"uses {REDACTED}"
    assert airflow_redact("log line with registered-by-vectorops-1") == f"log line with {REDACTED}"


def test_describe_error() -> None:
    error = ConnectionError("could not connect to postgresql://etl:topsecret@db/vectors")
    assert describe_error(error, set()) == "ConnectionError: could not connect to postgresql://etl:***@db/vectors"


@pytest.mark.parametrize(("dsn", "password"), [
    ("postgresql://u:p%40ss@h/d", "p@ss"),
    ("postgresql://u@h/d", None),
    ("host=h password='it''s' user=u", "it"),
    (r"host=h password='a\'b c' user=u", "a'b c"),
    ("host=h password=plain user=u", "plain"),
    ("password=first", "first"),
    ("host=h user=u", None),
    ("", None),
    ("postgresql://u:p@[bad", None),
])
def test_dsn_password(dsn: str, password: str | None) -> None:
    assert dsn_password(dsn) == password


def test_known_secrets_come_from_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("MY_API_KEY", "key/with space")
    clean_env.setenv("SOME_FLAG_TOKEN", "true")  # a flag, not a secret
    clean_env.setenv("SHORT_PASSWORD", "abc")  # too short to hide without blanking words
    clean_env.setenv("VECTOROPS_ALERT_WEBHOOK", "https://hooks.example.com/T000/B000/XXXX")  # no longer read
    clean_env.setenv("VECTOROPS_DSN", "postgresql://etl:dsn-pass@db/vectors")
    clean_env.setenv("AIRFLOW_CONN_TARGET", "postgresql://u:conn-pass@db/x")
    clean_env.setenv("AIRFLOW_CONN_BROKEN", "::not a connection::")
    clean_env.setenv("AIRFLOW_CONN_HOOK", json.dumps({"conn_type": "http", "host": "https://hooks.example.com",
                                                      "extra": {"Authorization": "Bearer hdr-token-9"}}))
    path = local_passwords_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"vectorops_etl": "role-pass", "unknown_role": "ignored-pass"}))
    redaction.remember_secret("from-a-backend")
    redaction.remember_secret(None)
    secrets = known_secrets()
    assert {"key/with space", "key%2Fwith%20space", "https://hooks.example.com/T000/B000/XXXX", "dsn-pass",
            "conn-pass", "Bearer hdr-token-9", "role-pass", "from-a-backend"} <= secrets
    assert not {"true", "abc", "ignored-pass", ""} & secrets
    assert redact("sent with key%2Fwith%20space") == f"sent with {REDACTED}"


def test_nothing_known_in_a_clean_environment(clean_env: pytest.MonkeyPatch) -> None:
    assert known_secrets() == set()
