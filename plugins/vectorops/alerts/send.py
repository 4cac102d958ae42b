"""Alerts for failed validations, migration gates and tasks: a generic webhook, Slack and e-mail over SMTP.

Channels are read from the environment when an alert is sent, and each one is on only when configured.
:func:`send_alert` never raises, and credentials are redacted from everything it sends or logs
(:mod:`vectorops.redaction`). The e-mail channel, from the SMTP connection to the message, lives in
:mod:`vectorops.alerts.smtp`. Stdlib only, as are those two: the CLI and DAG files import this module.
"""

from __future__ import annotations

import json
import logging
import math
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote, urlsplit

from vectorops.alerts.smtp import (
    EMAIL_FROM_ENV,
    EMAIL_TO_ENV,
    SMTP_CONN_ID_ENV,
    SmtpConnection,
    email_recipients,
    email_sender,
    send_alert_email,
    smtp_connection,
)
from vectorops.errors import SettingError
from vectorops.redaction import REDACTED, SLACK_WEBHOOK_ENV, WEBHOOK_ENV, describe_error, known_secrets, redact

__all__ = [
    "DEFAULT_TIMEOUT_S", "EMAIL_FROM_ENV", "EMAIL_TO_ENV", "REDACTED", "SLACK_WEBHOOK_ENV", "SMTP_CONN_ID_ENV",
    "TIMEOUT_ENV", "WEBHOOK_ENV", "AlertEvent", "AlertSettings", "ChannelResult", "SmtpConnection",
    "alert_settings_from_env", "redact", "run_url", "send_alert", "smtp_connection", "summary_text",
]

log = logging.getLogger(__name__)

TIMEOUT_ENV = "VECTOROPS_ALERT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 10.0


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
        return redact(_jsonable({f.name: getattr(self, f.name) for f in fields(self)}), known_secrets())


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
        email_to=email_recipients() if smtp_conn_id else (),
        email_from=email_sender(),
        timeout_s=_timeout_env(),
    )


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
        secrets = known_secrets()
        if isinstance(smtp, SmtpConnection) and smtp.password and len(smtp.password) >= 4:
            secrets |= {smtp.password, quote(smtp.password, safe="")}
        payload = redact(event.payload(), secrets)
        text = summary_text(payload)
    except Exception as exc:  # a broken event must not hide the failure being reported
        log.warning("could not build the vectorops alert %r: %s", getattr(event, "event", None),
                    describe_error(exc, set()))
        return [ChannelResult("alert", False, "could not build the alert")]
    body = json.dumps(payload, sort_keys=True)
    channels: list[tuple[str, str, Callable[[float], None]]] = [
        ("webhook", WEBHOOK_ENV, lambda timeout: _post_json(_http_url_env(WEBHOOK_ENV), payload, timeout)),
        ("slack", SLACK_WEBHOOK_ENV,
         lambda timeout: _post_json(_http_url_env(SLACK_WEBHOOK_ENV), {"text": text}, timeout)),
        ("smtp", SMTP_CONN_ID_ENV, lambda timeout: send_alert_email(smtp, payload, text, timeout)),
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
            error = describe_error(exc, secrets)
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
