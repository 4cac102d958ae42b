"""Alerts delivered by Airflow's notifiers over Airflow connections to real local receivers: an HTTP server (the
JSON webhook and Slack) and an aiosmtpd SMTP server (plain, STARTTLS and SMTPS with login)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

from tests.alert_receivers import HttpReceiver, SmtpHandler, free_port, smtp_uri, use_slack, use_webhook
from vectorops.alerts.send import AlertEvent, ChannelResult, alert_settings_from_env, redact, run_url, send_alert
from vectorops.errors import SettingError

ALERT_ENV = ("VECTOROPS_ALERT_WEBHOOK", "VECTOROPS_ALERT_SLACK_WEBHOOK", "VECTOROPS_ALERT_WEBHOOK_CONN_ID",
             "VECTOROPS_ALERT_SLACK_CONN_ID", "VECTOROPS_ALERT_SMTP_CONN_ID", "VECTOROPS_ALERT_EMAIL_TO",
             "VECTOROPS_ALERT_EMAIL_FROM", "VECTOROPS_ALERT_TIMEOUT_S", "AIRFLOW__API__BASE_URL", "AIRFLOW_PORT")
SLACK_TOKEN = "T000/B000/slack-hook-token-1234"
SLACK_PATH = f"/services/{SLACK_TOKEN}"


def _accept_any(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=True, auth_data=auth_data)


@pytest.fixture(autouse=True)
def alert_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key; clients trust it through ``SSL_CERT_FILE``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _event_fields() -> dict[str, Any]:
    """The fields of the sample alert: a fresh copy each call, and exactly the JSON its webhook post carries."""
    return {
        "event": "validation_failed", "dag_id": "pgvector_data_quality", "run_id": "manual__2026-01-01T00:00:00+00:00",
        "collection": "docs", "table": "vectors.docs",
        "failed_expectations": [{"expectation": "expect_table_row_count_to_equal", "observed": 998},
                                {"expectation": "embedding_norm_within_range", "observed": [0.0, 3.5]}],
        "run_url": "https://airflow.example.com/dags/pgvector_data_quality/runs/r1",
        "message": "2 of 9 expectations failed", "task_id": "validate"}


def _event(**changes: Any) -> AlertEvent:
    return AlertEvent(**{**_event_fields(), **changes})


def _closed_port() -> int:
    return free_port()  # nothing listens once the probe socket is closed: connections are refused


def test_webhook_receives_the_exact_json_payload(http_receiver: HttpReceiver,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    results = send_alert(_event())
    assert results == [ChannelResult("webhook", True, None)]
    [post] = http_receiver.posts
    assert post.path == "/alerts" and post.content_type == "application/json"
    assert post.json() == _event_fields()


def test_slack_receives_a_readable_text(http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    use_slack(monkeypatch, http_receiver.url("/services"), SLACK_TOKEN)
    assert send_alert(_event()) == [ChannelResult("slack", True, None)]
    [post] = http_receiver.posts
    assert post.path == SLACK_PATH and post.content_type.split(";")[0] == "application/json"  # Slack SDK adds charset
    body = post.json()
    assert set(body) == {"text"}
    text = body["text"]
    for expected in ("validation_failed", "collection=docs", "table=vectors.docs",
                     "expect_table_row_count_to_equal: observed 998",
                     "embedding_norm_within_range: observed [0.0, 3.5]",
                     "run: https://airflow.example.com/dags/pgvector_data_quality/runs/r1"):
        assert expected in text


@pytest.mark.parametrize("form", ["uri", "json"])
def test_smtp_delivers_subject_recipients_and_payload(smtp_server: tuple[SmtpHandler, int], form: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    handler, port = smtp_server
    conn = (smtp_uri(port) if form == "uri" else
            json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                        "extra": {"disable_ssl": True, "disable_tls": True}}))
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP", conn)
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "alerts_smtp")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com, data@example.com")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_FROM", "airflow@example.com")
    assert send_alert(_event()) == [ChannelResult("smtp", True, None)]
    [mail] = handler.mails
    assert mail.mail_from == "airflow@example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "data@example.com"]
    assert mail.message["Subject"] == "[vectorops] validation_failed: docs"
    assert mail.message["To"] == "oncall@example.com, data@example.com"
    assert mail.login is None
    text = mail.text()
    assert "expect_table_row_count_to_equal: observed 998" in text
    assert json.loads(text.split("Alert payload (JSON):", 1)[1]) == _event().payload()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_over_tls_logs_in_with_the_connection_credentials(tls_files: tuple[Path, Path], security: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handler, port = SmtpHandler(), free_port()
    # aiosmtpd only counts STARTTLS as TLS for AUTH; with implicit TLS (SMTPS) the whole session is encrypted.
    tls = ({"tls_context": server_ctx, "require_starttls": True} if security == "starttls"
           else {"ssl_context": server_ctx, "auth_require_tls": False})
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=_accept_any, **tls)
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        # Percent-encoding in the URI, as Airflow writes it: login "alerts@example.com", password "p@ss:w/rd 1".
        monkeypatch.setenv("AIRFLOW_CONN_TLS_SMTP",
                           smtp_uri(port, "alerts%40example.com:p%40ss%3Aw%2Frd%201@", security))
        monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "tls_smtp")
        monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
        results = send_alert(_event(message="login failed for p@ss:w/rd 1"))
    finally:
        controller.stop()
    assert results == [ChannelResult("smtp", True, None)]
    [mail] = handler.mails
    assert mail.login == ("alerts@example.com", "p@ss:w/rd 1")
    assert "login failed for ***" in mail.text() and "p@ss:w/rd 1" not in mail.text()


@pytest.mark.parametrize(("conn", "expected"), [
    (None, "Airflow connection 'alerts_smtp' (VECTOROPS_ALERT_SMTP_CONN_ID) is not defined: set "
           "AIRFLOW_CONN_ALERTS_SMTP (outside a task, as in the CLI, Airflow reads connections from AIRFLOW_CONN_*"),
    ("smtp://u:conn-secret-1@127.0.0.1:25/?disable_ssl=false", "extra disable_ssl='false' is a string, which "
                                                                "SmtpHook reads as true"),
    (json.dumps({"conn_type": "smtp", "port": 25, "password": "conn-secret-1"}), "has no host"),
    ('{"host": "x", "password": "conn-secret-1", "port": "not-a-port"}',
     "AIRFLOW_CONN_ALERTS_SMTP is set but Airflow cannot read it as a connection URI or JSON"),
    ("postgresql://u:conn-secret-1@127.0.0.1:5432/db", "is of type 'postgres'; the smtp channel needs 'smtp'"),
])
def test_a_missing_or_unusable_connection_is_named_without_its_password(
        conn: str | None, expected: str, smtp_server: tuple[SmtpHandler, int], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    if conn is not None:
        monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP", conn)
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "alerts_smtp")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
    with caplog.at_level(logging.WARNING, logger="vectorops.alerts.send"):
        [result] = send_alert(_event())
    assert result.channel == "smtp" and not result.ok and expected in str(result.error), result.error
    assert len(str(result.error).splitlines()) == 1 and "conn-secret-1" not in str(result.error) + caplog.text
    assert smtp_server[0].mails == []


def test_a_webhook_uri_whose_path_airflow_would_take_for_the_protocol_is_refused(
        http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """``http://host:port/path`` is an Airflow URI whose path is the ``schema``: HttpHook would post to
    ``path://host``. The error says how to write it, without quoting the path (it may be the webhook's token)."""
    monkeypatch.setenv("AIRFLOW_CONN_HOOK", http_receiver.url("/hooks/path-token-123"))
    monkeypatch.setenv("VECTOROPS_ALERT_WEBHOOK_CONN_ID", "hook")
    [result] = send_alert(_event())
    assert not result.ok and "Airflow connection 'hook' (VECTOROPS_ALERT_WEBHOOK_CONN_ID)" in str(result.error)
    assert '"host": "https://..."' in str(result.error) and "path-token-123" not in str(result.error)
    assert http_receiver.posts == []


def test_a_dead_channel_does_not_stop_the_others(http_receiver: HttpReceiver, smtp_server: tuple[SmtpHandler, int],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    handler, port = smtp_server
    use_webhook(monkeypatch, f"http://127.0.0.1:{_closed_port()}/alerts")
    use_slack(monkeypatch, http_receiver.url("/services"), SLACK_TOKEN)
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP", smtp_uri(port))
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "alerts_smtp")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
    monkeypatch.setenv("VECTOROPS_ALERT_TIMEOUT_S", "2")
    with caplog.at_level(logging.WARNING, logger="vectorops.alerts.send"):
        results = send_alert(_event())
    by_channel = {r.channel: r for r in results}
    assert list(by_channel) == ["webhook", "slack", "smtp"]
    assert not by_channel["webhook"].ok and "refused" in str(by_channel["webhook"].error).lower()
    assert by_channel["slack"].ok and by_channel["smtp"].ok
    assert len(http_receiver.posts) == 1 and len(handler.mails) == 1
    assert "channel webhook failed" in caplog.text


def test_a_webhook_token_in_the_url_path_is_hidden_from_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead webhook's error quotes the URL's path; the token segment is masked, short words are not."""
    use_webhook(monkeypatch, f"http://127.0.0.1:{_closed_port()}/hooks/tok-0123456789abcdef?key=k-abcdef0123456789")
    [result] = send_alert(_event())
    assert not result.ok and "refused" in str(result.error).lower()
    assert "/hooks/***" in str(result.error), result.error
    assert "0123456789abcdef" not in str(result.error) and "abcdef0123456789" not in str(result.error)


def test_http_errors_and_misconfigured_channels_are_reported_not_raised(
        http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    http_receiver.status = 500
    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    # The URL variable of earlier versions: refused in one line naming the connection setting that replaced it.
    monkeypatch.setenv("VECTOROPS_ALERT_SLACK_WEBHOOK", "https://hooks.example.com/slack-hook-token-1234")
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "nowhere")  # no recipients configured
    results = send_alert(_event())
    assert [(r.channel, r.ok) for r in results] == [("webhook", False), ("slack", False), ("smtp", False)]
    assert "500" in str(results[0].error)
    assert "VECTOROPS_ALERT_SLACK_WEBHOOK is no longer read" in str(results[1].error)
    assert "VECTOROPS_ALERT_SLACK_CONN_ID" in str(results[1].error)
    assert "slack-hook-token-1234" not in str(results[1].error)
    assert "VECTOROPS_ALERT_EMAIL_TO" in str(results[2].error)
    assert len(http_receiver.posts) == 1  # the webhook was reached; it answered 500


def test_credentials_never_leave_the_process(http_receiver: HttpReceiver, smtp_server: tuple[SmtpHandler, int],
                                             monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    handler, port = smtp_server
    db_password = os.environ["VECTOROPS_DB_PASSWORD"]
    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    use_slack(monkeypatch, http_receiver.url("/services"), SLACK_TOKEN)
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP",
                       json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "password": "smtp-pass-77",
                                   "extra": {"disable_ssl": True, "disable_tls": True}}))
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "alerts_smtp")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
    monkeypatch.setenv("CHROMA_API_TOKEN", "chroma-token-xyz")
    secrets = [db_password, "hunter2-dsn", "s3cr3t-url", "plain-secret", "chroma-token-xyz", "smtp-pass-77",
               "slack-hook-token-1234", "key-value-pw"]
    event = _event(
        message=(f"connect failed: postgresql://vectorops:{db_password}@127.0.0.1:5432/vectors; "
                 "host=127.0.0.1 user=vectorops password=hunter2-dsn; slack said no to "
                 f"{http_receiver.url(SLACK_PATH)}; token chroma-token-xyz; smtp-pass-77"),
        failed_expectations=[{"expectation": "source_reachable",
                              "observed": {"dsn": "postgres://u:s3cr3t-url@db/x", "password": "plain-secret",
                                           "settings": ["PGPASSWORD=key-value-pw"]}}])
    # The conn's login is absent: the SMTP server would refuse AUTH on a plain connection.
    with caplog.at_level(logging.DEBUG, logger="vectorops"):
        results = send_alert(event)
    assert all(r.ok for r in results) and len(results) == 3
    delivered = http_receiver.bodies() + handler.mails[0].text() + handler.mails[0].raw.decode() + caplog.text
    assert "connect failed: postgresql://vectorops:***@127.0.0.1:5432/vectors" in delivered
    assert "password=***" in delivered and "PGPASSWORD=***" in delivered
    leaked = [s for s in secrets if s in delivered]
    assert leaked == []
    webhook = next(p.json() for p in http_receiver.posts if p.path == "/alerts")
    # Airflow's masker hides the value of a "dsn" key whole, not only its password.
    assert webhook["failed_expectations"][0]["observed"] == {"dsn": "***", "password": "***",
                                                             "settings": ["PGPASSWORD=***"]}


_OUTSIDE_AIRFLOW = """
import json, sys
from vectorops.alerts.send import AlertEvent, send_alert
assert "airflow" not in sys.modules  # a CLI process: nothing of Airflow loaded before the alert
event = AlertEvent(event="sync_lag", dag_id=None, run_id="cli-1", collection="docs", table=None,
                   failed_expectations=[], run_url=None, message="lag with conn-pass-outside in it")
print(json.dumps([[r.channel, r.ok, r.error] for r in send_alert(event)]))
"""


def test_a_process_outside_airflow_alerts_through_the_same_connections(
        http_receiver: HttpReceiver, smtp_server: tuple[SmtpHandler, int]) -> None:
    """The CLI (``vectorops sync``, ``monitor``, ``validate``) alerts outside any task: Airflow's notifiers then
    read the connections from ``AIRFLOW_CONN_*`` (the SDK's environment secrets backend), in a fresh process."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AIRFLOW_CONN_", "VECTOROPS_ALERT_"))}
    env.update({"AIRFLOW_CONN_OUT_HOOK": json.dumps({"conn_type": "http", "host": http_receiver.url("/out")}),
                "AIRFLOW_CONN_OUT_SLACK": json.dumps({"conn_type": "slackwebhook", "password": SLACK_TOKEN,
                                                      "host": http_receiver.url("/services")}),
                "AIRFLOW_CONN_OUT_SMTP": smtp_uri(smtp_server[1], "u:conn-pass-outside@"),
                "VECTOROPS_ALERT_WEBHOOK_CONN_ID": "out_hook", "VECTOROPS_ALERT_SLACK_CONN_ID": "out_slack",
                "VECTOROPS_ALERT_SMTP_CONN_ID": "out_smtp", "VECTOROPS_ALERT_EMAIL_TO": "oncall@example.com"})
    env.pop("_AIRFLOW_PROCESS_CONTEXT", None)
    proc = subprocess.run([sys.executable, "-c", _OUTSIDE_AIRFLOW], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    # The SMTP server takes no AUTH on a plain connection: the login attempt fails, and says so in one result.
    assert results[:2] == [["webhook", True, None], ["slack", True, None]], results
    assert results[2][0] == "smtp" and not results[2][1] and "conn-pass-outside" not in str(results[2][2])
    [hook] = [p.json() for p in http_receiver.posts if p.path == "/out"]
    assert hook["event"] == "sync_lag" and hook["message"] == "lag with *** in it"
    assert [p.path for p in http_receiver.posts if p.path != "/out"] == [SLACK_PATH]
    assert "conn-pass-outside" not in proc.stdout + proc.stderr + http_receiver.bodies()


def test_without_channels_the_alert_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="vectorops.alerts.send"):
        assert send_alert(_event()) == []
    [record] = [r for r in caplog.records if r.name == "vectorops.alerts.send"]
    assert record.levelno == logging.INFO and "no alert channel configured" in record.getMessage()
    assert '"event": "validation_failed"' in record.getMessage()


@pytest.mark.parametrize(("env", "variable"), [
    ({"VECTOROPS_ALERT_WEBHOOK": "ftp://user:webhook-secret@example.com/hook"},
     "VECTOROPS_ALERT_WEBHOOK is no longer read: .* VECTOROPS_ALERT_WEBHOOK_CONN_ID"),
    ({"VECTOROPS_ALERT_SLACK_WEBHOOK": "hooks.slack.com/services/x", "VECTOROPS_ALERT_SLACK_CONN_ID": "slack"},
     "VECTOROPS_ALERT_SLACK_WEBHOOK is no longer read: .* VECTOROPS_ALERT_SLACK_CONN_ID"),
    ({"VECTOROPS_ALERT_SMTP_CONN_ID": "smtp_default"}, "VECTOROPS_ALERT_EMAIL_TO"),
    ({"VECTOROPS_ALERT_SMTP_CONN_ID": "smtp_default", "VECTOROPS_ALERT_EMAIL_TO": "not-an-address"},
     "VECTOROPS_ALERT_EMAIL_TO"),
    ({"VECTOROPS_ALERT_WEBHOOK_CONN_ID": "https://hooks.example.com/T0/B0/webhook-secret"},
     "VECTOROPS_ALERT_WEBHOOK_CONN_ID holds a URL; it names an Airflow connection"),
    ({"VECTOROPS_ALERT_EMAIL_TO": "oncall@example.com"},
     "VECTOROPS_ALERT_EMAIL_TO is set but VECTOROPS_ALERT_SMTP_CONN_ID is not"),
    ({"VECTOROPS_ALERT_TIMEOUT_S": "soon"}, "VECTOROPS_ALERT_TIMEOUT_S"),
    ({"VECTOROPS_ALERT_TIMEOUT_S": "0"}, "VECTOROPS_ALERT_TIMEOUT_S"),
])
def test_unusable_settings_name_their_variable(env: dict[str, str], variable: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=variable) as caught:
        alert_settings_from_env()
    assert "webhook-secret" not in str(caught.value)


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert alert_settings_from_env().channels == []
    monkeypatch.setenv("VECTOROPS_ALERT_WEBHOOK_CONN_ID", " alerts_webhook ")
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "smtp_default")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "a@example.com,b@example.com")
    monkeypatch.setenv("VECTOROPS_ALERT_TIMEOUT_S", "2.5")
    settings = alert_settings_from_env()
    assert settings.channels == ["webhook", "smtp"]
    assert settings.email_to == ("a@example.com", "b@example.com") and settings.email_from == "vectorops@localhost"
    assert settings.timeout_s == 2.5 and settings.webhook_conn_id == "alerts_webhook"


def test_run_url_points_at_the_airflow_3_run_page(monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = "manual__2026-01-01T00:00:00+00:00"
    assert run_url("dq", run_id) == "http://localhost:8080/dags/dq/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00"
    monkeypatch.setenv("AIRFLOW_PORT", "9191")
    assert run_url("dq", "r 1") == "http://localhost:9191/dags/dq/runs/r%201"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team/")
    assert run_url("dq", "r/1") == "https://airflow.example.com/team/dags/dq/runs/r%2F1"
    assert run_url(None, run_id) is None and run_url("dq", None) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://vectorops:pw-1@127.0.0.1:5432/vectors", "postgresql://vectorops:***@127.0.0.1:5432/vectors"),
    ("redis://:only-pw@cache:6379/0", "redis://:***@cache:6379/0"),
    ("dbname=v user=u password=abc123 host=h", "dbname=v user=u password=*** host=h"),
    ("password='with space' sslmode=require", "password=*** sslmode=require"),
    ("{'password': 'pw-2', 'user': 'u'}", "{'password': ***, 'user': 'u'}"),
    ("https://hooks.example.com/in?token=abc&x=1", "https://hooks.example.com/in?token=***&x=1"),
    ("http://127.0.0.1:8080/dags/x/runs/y", "http://127.0.0.1:8080/dags/x/runs/y"),
    ("expected 10 tokens=5? no: 10 max_tokens", "expected 10 tokens=5? no: 10 max_tokens"),
])
def test_redact_patterns(text: str, expected: str) -> None:
    assert redact(text, set()) == expected


def test_redact_hides_known_secret_values_also_url_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_ADMIN_PASSWORD", "adm/n pw")
    monkeypatch.setenv("MY_SERVICE_KEY", "svc-key-123")
    monkeypatch.setenv("FEATURE_KEY", "true")  # a flag, not a secret: "true" stays readable
    value = {"a": ["adm/n pw", "adm%2Fn%20pw", "uses svc-key-123"], "b": 3, "c": "true"}
    assert redact(value) == {"a": ["***", "***", "uses ***"], "b": 3, "c": "true"}


_PROBE_DAG = '''
from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from vectorops.airflow.notifier import VectoropsNotifier


@dag(dag_id="vectorops_alert_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
     catchup=False, default_args={"retries": 0}, on_failure_callback=VectoropsNotifier("dag_failed"))
def vectorops_alert_probe():
    @task(map_index_template="{{ collection }}", on_failure_callback=VectoropsNotifier())
    def check(collection: str) -> None:
        get_current_context()["collection"] = collection
        raise RuntimeError(f"row count mismatch for {collection} via postgresql://vectorops:probe-pw-9@db/x "
                           "(smtp password db-conn-pass-55)")

    @task(on_failure_callback=VectoropsNotifier())
    def already_alerted() -> None:
        error = RuntimeError("validation failed; the task sent its own alert")
        error.vectorops_alerted = True
        raise error

    check.expand(collection=["probe-docs"])
    already_alerted()


vectorops_alert_probe()
'''


@pytest.fixture
def smtp_conn_in_airflow_db(airflow_db: dict[str, str], smtp_server: tuple[SmtpHandler, int]) -> Iterator[str]:
    """An SMTP connection stored in Airflow's metadata DB (no ``AIRFLOW_CONN_`` variable): the BaseHook path."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    conn_id = "vectorops_probe_smtp"
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()
        session.add(Connection(conn_id=conn_id, conn_type="smtp", host="127.0.0.1", port=smtp_server[1],
                               password="db-conn-pass-55",
                               extra=json.dumps({"disable_ssl": True, "disable_tls": True, "retry_limit": 0})))
    yield conn_id
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()


def test_notifier_alerts_from_a_failing_dag_under_real_airflow(
        tmp_path: Path, http_receiver: HttpReceiver, smtp_server: tuple[SmtpHandler, int],
        smtp_conn_in_airflow_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "probe_dags"
    folder.mkdir()
    (folder / "vectorops_alert_probe.py").write_text(_PROBE_DAG)
    # dag.test() needs the DAG in a bundle: add one for this folder next to the project's dags folder.
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {"name": "vectorops-alert-probe", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(folder)}}]))
    use_webhook(monkeypatch, http_receiver.url("/alerts"))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", smtp_conn_in_airflow_db)
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors
    run = bag.dags["vectorops_alert_probe"].test()
    assert str(run.state) == "failed"
    events = [(post.json()["event"], post.json()["task_id"]) for post in http_receiver.posts]
    assert sorted(e for e, _ in events) == ["dag_failed", "task_failed"]  # already_alerted sent no second alert
    assert ("task_failed", "already_alerted") not in events
    alerts = {post.json()["event"]: post.json() for post in http_receiver.posts}
    task_alert = alerts["task_failed"]
    assert task_alert["dag_id"] == "vectorops_alert_probe" and task_alert["run_id"] == run.run_id
    assert task_alert["task_id"] == "check" and task_alert["collection"] == "probe-docs"
    assert task_alert["message"] == (
        "RuntimeError: row count mismatch for probe-docs via postgresql://vectorops:***@db/x (smtp password ***)")
    assert task_alert["run_url"] == run_url("vectorops_alert_probe", run.run_id)
    assert task_alert["run_url"].startswith("https://airflow.example.com/dags/vectorops_alert_probe/runs/")
    dag_alert = alerts["dag_failed"]
    assert dag_alert["run_id"] == run.run_id and dag_alert["message"] == "task_failure"
    # Inside the task the SMTP connection came from Airflow (BaseHook), and its password is redacted.
    mails = [m for m in smtp_server[0].mails if "[vectorops] task_failed: probe-docs" == m.message["Subject"]]
    assert len(mails) == 1 and "row count mismatch for probe-docs" in mails[0].text()
    assert "db-conn-pass-55" not in mails[0].text() + http_receiver.bodies()


def test_a_redirect_is_a_failed_delivery_not_a_sent_one(http_receiver: HttpReceiver,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # requests would follow a 301 with a GET and drop the payload; the receiver saw the POST and answered 301
    http_receiver.status = 301
    use_webhook(monkeypatch, http_receiver.url("/moved"))
    [result] = send_alert(_event())
    assert not result.ok and "HTTP 301" in str(result.error) and "redirect" in str(result.error), result
    assert [post.path for post in http_receiver.posts] == ["/moved"]


@pytest.mark.parametrize("host", ["127.0.0.1:9/hook", "http://127.0.0.1:9/hook"])
def test_an_https_webhook_connection_never_posts_over_plain_http(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TLS_HOOK", json.dumps({"conn_type": "https", "host": host}))
    monkeypatch.setenv("VECTOROPS_ALERT_WEBHOOK_CONN_ID", "tls_hook")
    [result] = send_alert(_event())
    assert not result.ok and "HttpHook would POST over plain http" in str(result.error), result


def test_the_smtp_connections_from_email_is_the_sender_when_vectorops_sets_none(
        smtp_server: tuple[SmtpHandler, int], monkeypatch: pytest.MonkeyPatch) -> None:
    handler, port = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "ops@corp.example"}}))
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "alerts_smtp")
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
    monkeypatch.delenv("VECTOROPS_ALERT_EMAIL_FROM", raising=False)
    assert send_alert(_event()) == [ChannelResult("smtp", True, None)]
    assert [mail.mail_from for mail in handler.mails] == ["ops@corp.example"]
