"""Alerts for failed validations, migration gates and tasks: a generic webhook, Slack and e-mail over SMTP.

Channels are read from the environment when an alert is sent, and each one is on only when configured.
:func:`send_alert` never raises, and credentials are redacted from everything it sends or logs.
Stdlib only: the CLI and DAG files import this module.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from vectorops.config import SettingError

log = logging.getLogger(__name__)

WEBHOOK_ENV = "VECTOROPS_ALERT_WEBHOOK"
SLACK_WEBHOOK_ENV = "VECTOROPS_ALERT_SLACK_WEBHOOK"
SMTP_CONN_ID_ENV = "VECTOROPS_ALERT_SMTP_CONN_ID"
EMAIL_TO_ENV = "VECTOROPS_ALERT_EMAIL_TO"
EMAIL_FROM_ENV = "VECTOROPS_ALERT_EMAIL_FROM"
TIMEOUT_ENV = "VECTOROPS_ALERT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 10.0
REDACTED = "***"


@dataclass(frozen=True)
class AlertEvent:
    """Something a person should look at.

    :param event: what happened, e.g. ``validation_failed``, ``migration_gate_failed``, ``task_failed``.
    :param failed_expectations: ``{"expectation": name, "observed": JSON-able value}`` per failed check.
    :param run_url: link to the DAG run in the Airflow UI (see :func:`run_url`).
    """

    event: str
    dag_id: str | None
    run_id: str | None
    collection: str | None
    table: str | None
    failed_expectations: list[dict[str, Any]]
    run_url: str | None
    message: str | None = None
    task_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON document every channel sends, with credentials redacted."""
        return redact(_jsonable({f.name: getattr(self, f.name) for f in fields(self)}), _known_secrets())


@dataclass(frozen=True)
class ChannelResult:
    """Outcome of one channel of one :func:`send_alert` call; ``error`` is redacted."""

    channel: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class AlertSettings:
    """The alert channels configured in the environment (see :func:`alert_settings_from_env`)."""

    webhook_url: str | None = field(default=None, repr=False)
    slack_webhook_url: str | None = field(default=None, repr=False)
    smtp_conn_id: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str = "vectorops@localhost"
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def channels(self) -> list[str]:
        """Names of the enabled channels."""
        enabled = (("webhook", self.webhook_url), ("slack", self.slack_webhook_url), ("smtp", self.smtp_conn_id))
        return [name for name, value in enabled if value]


@dataclass(frozen=True)
class SmtpConnection:
    """The parts of an Airflow SMTP connection an alert needs."""

    host: str
    port: int | None
    login: str | None
    password: str | None = field(repr=False)
    extra: dict[str, Any]

    @property
    def security(self) -> str:
        """``ssl`` (SMTPS), ``starttls`` or ``plain``.

        Explicit extras win (``ssl``/``starttls``, or the SMTP provider's ``disable_ssl``/``disable_tls``);
        otherwise port 465 means SMTPS and port 587 STARTTLS.
        """
        use_ssl = _flag(self.extra, "ssl", "disable_ssl")
        if use_ssl if use_ssl is not None else self.port == 465:
            return "ssl"
        use_starttls = _flag(self.extra, "starttls", "disable_tls")
        if use_starttls if use_starttls is not None else self.port == 587:
            return "starttls"
        return "plain"


def run_url(dag_id: str | None, run_id: str | None) -> str | None:
    """Link to a DAG run in the Airflow 3 UI.

    :param dag_id: the DAG; ``None`` gives ``None``.
    :param run_id: the run; ``None`` gives ``None``.
    :return: ``{base}/dags/{dag_id}/runs/{run_id}``, base from ``AIRFLOW__API__BASE_URL``, else
        ``http://localhost:{AIRFLOW_PORT or 8080}``.
    """
    if not dag_id or not run_id:
        return None
    base = (os.environ.get("AIRFLOW__API__BASE_URL") or "").strip().rstrip("/")
    if not base:
        base = f"http://localhost:{os.environ.get('AIRFLOW_PORT') or 8080}"
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def alert_settings_from_env() -> AlertSettings:
    """Read :class:`AlertSettings` from the environment.

    :raises SettingError: naming the variable whose value is unusable.
    """
    smtp_conn_id = _env(SMTP_CONN_ID_ENV)
    return AlertSettings(
        webhook_url=_http_url_env(WEBHOOK_ENV),
        slack_webhook_url=_http_url_env(SLACK_WEBHOOK_ENV),
        smtp_conn_id=smtp_conn_id,
        email_to=_recipients_env() if smtp_conn_id else (),
        email_from=_sender_env(),
        timeout_s=_timeout_env(),
    )


def smtp_connection(conn_id: str) -> SmtpConnection:
    """The Airflow connection ``conn_id``, from ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON) without a running Airflow,
    else from ``airflow.sdk.BaseHook.get_connection`` (inside a task).

    :param conn_id: the connection id.
    :raises SettingError: when ``AIRFLOW_CONN_<CONN_ID>`` cannot be parsed or has no host.
    """
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = (os.environ.get(var) or "").strip()
    if not value:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        if not conn.host:
            raise SettingError(f"Airflow connection {conn_id!r} has no host")
        return SmtpConnection(host=conn.host, port=conn.port, login=conn.login or None,
                              password=conn.password or None, extra=dict(conn.extra_dejson))
    try:
        parsed = _parse_connection_json(value) if value.startswith("{") else _parse_connection_uri(value)
    except (ValueError, TypeError) as exc:
        # The message must not quote the value: it holds the password.
        raise SettingError(f"{var} is not a valid Airflow connection URI or JSON ({type(exc).__name__})") from None
    if not parsed.host:
        raise SettingError(f"{var} has no host")
    return parsed


def send_alert(event: AlertEvent) -> list[ChannelResult]:
    """Send ``event`` to every configured channel. Never raises: a failing channel is logged and reported.

    :param event: the alert.
    :return: one result per configured channel (empty when none is configured; the alert is then logged).
    """
    smtp: SmtpConnection | Exception | None = None
    if conn_id := _env(SMTP_CONN_ID_ENV):
        # Read first, so that its password is redacted even when it comes from Airflow rather than the environment.
        try:
            smtp = smtp_connection(conn_id)
        except Exception as exc:
            smtp = exc
    try:
        secrets = _known_secrets()
        if isinstance(smtp, SmtpConnection) and smtp.password and len(smtp.password) >= 4:
            secrets |= {smtp.password, quote(smtp.password, safe="")}
        payload = redact(event.payload(), secrets)
        text = summary_text(payload)
    except Exception as exc:  # a broken event must not hide the failure being reported
        log.warning("could not build the vectorops alert %r: %s", getattr(event, "event", None),
                    _describe(exc, set()))
        return [ChannelResult("alert", False, "could not build the alert")]
    body = json.dumps(payload, sort_keys=True)
    channels: list[tuple[str, str, Callable[[float], None]]] = [
        ("webhook", WEBHOOK_ENV, lambda timeout: _post_json(_http_url_env(WEBHOOK_ENV), payload, timeout)),
        ("slack", SLACK_WEBHOOK_ENV,
         lambda timeout: _post_json(_http_url_env(SLACK_WEBHOOK_ENV), {"text": text}, timeout)),
        ("smtp", SMTP_CONN_ID_ENV, lambda timeout: _send_email(smtp, payload, text, timeout)),
    ]
    configured = [(name, send) for name, var, send in channels if _env(var)]
    if not configured:
        log.info("vectorops alert (no alert channel configured): %s", body)
        return []
    log.info("vectorops alert to %s: %s", ", ".join(name for name, _ in configured), body)
    try:
        timeout = _timeout_env()
    except SettingError as exc:
        log.warning("%s; using %s s", exc, DEFAULT_TIMEOUT_S)
        timeout = DEFAULT_TIMEOUT_S
    results = []
    for name, send in configured:
        try:
            send(timeout)
        except Exception as exc:
            error = _describe(exc, secrets)
            log.warning("vectorops alert channel %s failed: %s", name, error)
            results.append(ChannelResult(name, False, error))
        else:
            results.append(ChannelResult(name, True))
    return results


def summary_text(payload: Mapping[str, Any]) -> str:
    """A few readable lines about an alert payload: for Slack and the e-mail body.

    :param payload: :meth:`AlertEvent.payload`.
    """
    where = " ".join(f"{key}={payload[key]}" for key in ("collection", "table") if payload.get(key))
    lines = [f"vectorops {payload['event']}" + (f": {where}" if where else "")]
    run = " ".join(f"{key}={payload[key]}" for key in ("dag_id", "run_id", "task_id") if payload.get(key))
    if run:
        lines.append(run)
    if payload.get("message"):
        lines.append(f"message: {payload['message']}")
    if payload.get("failed_expectations"):
        lines.append("failed expectations:")
        for item in payload["failed_expectations"]:
            if isinstance(item, Mapping):
                observed = json.dumps(item.get("observed"), sort_keys=True, default=str)
                lines.append(f"- {item.get('expectation')}: observed {observed}")
            else:
                lines.append(f"- {item}")
    if payload.get("run_url"):
        lines.append(f"run: {payload['run_url']}")
    return "\n".join(lines)


def redact(value: Any, secrets: set[str] | None = None) -> Any:
    """``value`` with credentials replaced by ``***``, recursively through dicts, lists and tuples.

    Redacts ``scheme://user:password@`` passwords, ``password=...`` pairs, values of keys that name a
    secret, and the literal ``secrets`` (default: those known from the environment).

    :param value: a string or a JSON-like structure.
    :param secrets: literal values to hide.
    """
    if secrets is None:
        secrets = _known_secrets()
    if isinstance(value, str):
        return _redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) and isinstance(item, str) and item
                else redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    return value


_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*):[^\s@/]*@")
_KEY_VALUE = re.compile(
    r"""(?P<head>\b\w*(?:password|passwd|pwd|secret|token)["']?\s*[=:]\s*)(?:'[^']*'|"[^"]*"|[^\s&;,'"}]+)""",
    re.IGNORECASE)
_SECRET_KEY = re.compile(r"password|passwd|^pwd$|secret|(?:^|_)token$|api_?key|credential", re.IGNORECASE)
_SECRET_ENV_SUFFIXES = ("PASSWORD", "SECRET", "TOKEN", "KEY")
_NOT_SECRETS = {"true", "false", "none", "null", "yes", "no", "on", "off"}


def _redact_text(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_CREDENTIALS.sub(rf"\g<head>:{REDACTED}@", text)
    return _KEY_VALUE.sub(rf"\g<head>{REDACTED}", text)


def _known_secrets() -> set[str]:
    """Literal secret values in the environment, also percent-encoded as they appear inside URLs."""
    values = {os.environ.get(name) for name in os.environ if name.upper().endswith(_SECRET_ENV_SUFFIXES)}
    values |= {os.environ.get(name) for name in (WEBHOOK_ENV, SLACK_WEBHOOK_ENV)}
    for name, value in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and value.strip():
            try:
                conn = (_parse_connection_json(value.strip()) if value.strip().startswith("{")
                        else _parse_connection_uri(value.strip()))
            except (ValueError, TypeError):
                continue
            values.add(conn.password)
    # Very short values would blank out ordinary words; flags are not secrets.
    values = {v for v in values if v and len(v) >= 4 and v.lower() not in _NOT_SECRETS}
    return values | {quote(v, safe="") for v in values}


def _describe(exc: BaseException, secrets: set[str]) -> str:
    return _redact_text(f"{type(exc).__name__}: {exc}", secrets)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return _jsonable(value.tolist())
    return str(value)


def _env(name: str) -> str | None:
    return (os.environ.get(name) or "").strip() or None


def _http_url_env(name: str) -> str | None:
    url = _env(name)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Only the scheme: the rest of a webhook URL is its secret.
        raise SettingError(f"{name} must be an http(s) URL with a host (got scheme {parts.scheme!r})")
    return url


def _recipients_env() -> tuple[str, ...]:
    recipients = tuple(r.strip() for r in (os.environ.get(EMAIL_TO_ENV) or "").split(",") if r.strip())
    if not recipients:
        raise SettingError(f"{EMAIL_TO_ENV} must list at least one recipient when {SMTP_CONN_ID_ENV} is set")
    bad = [r for r in recipients if "@" not in r or any(c.isspace() for c in r)]
    if bad:
        raise SettingError(f"{EMAIL_TO_ENV} has invalid address(es): {', '.join(bad)}")
    return recipients


def _sender_env() -> str:
    sender = _env(EMAIL_FROM_ENV) or "vectorops@localhost"
    if "@" not in sender or any(c.isspace() for c in sender):
        raise SettingError(f"{EMAIL_FROM_ENV}={sender!r} is not an e-mail address")
    return sender


def _timeout_env() -> float:
    raw = _env(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise SettingError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def _post_json(url: str | None, document: Mapping[str, Any], timeout: float) -> None:
    assert url is not None
    request = urllib.request.Request(url, data=json.dumps(document, sort_keys=True).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "vectorops-alerts"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def _send_email(conn: SmtpConnection | Exception | None, payload: Mapping[str, Any], text: str,
                timeout: float) -> None:
    recipients, sender = _recipients_env(), _sender_env()
    if not isinstance(conn, SmtpConnection):
        raise conn or SettingError(f"{SMTP_CONN_ID_ENV} is not set")
    about = payload.get("collection") or payload.get("table") or payload.get("dag_id") or "-"
    subject = f"[vectorops] {payload['event']}: {about}"
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())[:250]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(f"{text}\n\nAlert payload (JSON):\n{json.dumps(payload, indent=2, sort_keys=True)}\n")
    security = conn.security
    port = conn.port or {"ssl": 465, "starttls": 587}.get(security, 25)
    client: smtplib.SMTP
    if security == "ssl":
        client = smtplib.SMTP_SSL(conn.host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(conn.host, port, timeout=timeout)
    with client:
        if security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if conn.login:
            client.login(conn.login, conn.password or "")
        client.send_message(message)


def _parse_connection_uri(uri: str) -> SmtpConnection:
    """An Airflow connection URI, decoded the way ``airflow.models.Connection`` does it."""
    parts = urlsplit(uri)
    if not parts.scheme or "://" not in uri:
        raise ValueError("not a URI")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in query:
        extra = json.loads(query["__extra__"])
    else:
        extra = {key: _json_or_text(value) for key, value in query.items()}
    if not isinstance(extra, dict):
        raise ValueError("extra is not a JSON object")
    return SmtpConnection(host=unquote(parts.hostname or ""), port=parts.port,
                          login=unquote(parts.username) if parts.username else None,
                          password=unquote(parts.password) if parts.password else None, extra=extra)


def _parse_connection_json(value: str) -> SmtpConnection:
    """Airflow's JSON form: ``{"conn_type", "host", "port", "login", "password", "extra": {...}}``."""
    doc = json.loads(value)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    extra = doc.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    if not isinstance(extra, dict):
        raise ValueError("extra is not a JSON object")
    port = doc.get("port")
    return SmtpConnection(host=str(doc.get("host") or ""), port=int(port) if port not in (None, "") else None,
                          login=doc.get("login") or None, password=doc.get("password") or None, extra=extra)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value) if value else value
    except json.JSONDecodeError:
        return value


def _flag(extra: Mapping[str, Any], key: str, negated_key: str) -> bool | None:
    """``extra[key]``, else ``not extra[negated_key]``, else ``None``; accepts booleans and their spellings."""
    for name, flip in ((key, False), (negated_key, True)):
        if name in extra and extra[name] not in (None, ""):
            raw = extra[name]
            value = raw.strip().lower() in ("true", "1", "yes", "on") if isinstance(raw, str) else bool(raw)
            return value != flip
    return None
