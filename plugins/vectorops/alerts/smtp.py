"""The e-mail channel of alerts: the Airflow SMTP connection, the recipients and sender, the message, and sending it.

The connection comes from ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON), parsed the way Airflow does, or from Airflow
itself inside a task. Stdlib only at module level: :mod:`vectorops.alerts.send` imports this module, and DAG files
import that one at parse time.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from vectorops.airflow.connections import airflow_connection, parse_connection
from vectorops.errors import SettingError

SMTP_CONN_ID_ENV = "VECTOROPS_ALERT_SMTP_CONN_ID"
EMAIL_TO_ENV = "VECTOROPS_ALERT_EMAIL_TO"
EMAIL_FROM_ENV = "VECTOROPS_ALERT_EMAIL_FROM"


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


def smtp_connection(conn_id: str) -> SmtpConnection:
    """The Airflow connection ``conn_id``, from ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON) without a running Airflow,
    else from ``airflow.sdk.BaseHook.get_connection`` (inside a task,
    through :func:`vectorops.airflow.connections.airflow_connection`).

    :param conn_id: the connection id.
    :raises SettingError: when ``AIRFLOW_CONN_<CONN_ID>`` cannot be parsed or has no host.
    """
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = (os.environ.get(var) or "").strip()
    if not value:
        conn = airflow_connection(conn_id)
        if not conn.host:
            raise SettingError(f"Airflow connection {conn_id!r} has no host")
        return SmtpConnection(host=conn.host, port=conn.port, login=conn.login or None,
                              password=conn.password or None, extra=conn.extra)
    try:
        parsed = parse_connection(value)
    except (ValueError, TypeError) as exc:
        # The message must not quote the value: it holds the password.
        raise SettingError(f"{var} is not a valid Airflow connection URI or JSON ({type(exc).__name__})") from None
    if not parsed.host:
        raise SettingError(f"{var} has no host")
    return SmtpConnection(host=parsed.host, port=parsed.port, login=parsed.login, password=parsed.password,
                          extra=parsed.extra)


def email_recipients() -> tuple[str, ...]:
    """The addresses in ``VECTOROPS_ALERT_EMAIL_TO`` (comma-separated).

    :raises SettingError: when it lists none, or an entry is not an e-mail address.
    """
    recipients = tuple(r.strip() for r in (os.environ.get(EMAIL_TO_ENV) or "").split(",") if r.strip())
    if not recipients:
        raise SettingError(f"{EMAIL_TO_ENV} must list at least one recipient when {SMTP_CONN_ID_ENV} is set")
    bad = [r for r in recipients if "@" not in r or any(c.isspace() for c in r)]
    if bad:
        raise SettingError(f"{EMAIL_TO_ENV} has invalid address(es): {', '.join(bad)}")
    return recipients


def email_sender() -> str:
    """The address in ``VECTOROPS_ALERT_EMAIL_FROM``, ``vectorops@localhost`` when unset.

    :raises SettingError: when it is not an e-mail address.
    """
    sender = (os.environ.get(EMAIL_FROM_ENV) or "").strip() or "vectorops@localhost"
    if "@" not in sender or any(c.isspace() for c in sender):
        raise SettingError(f"{EMAIL_FROM_ENV}={sender!r} is not an e-mail address")
    return sender


def send_alert_email(conn: SmtpConnection | Exception | None, payload: Mapping[str, Any], text: str,
                     timeout: float) -> None:
    """E-mail an alert to the recipients: ``text`` and then the JSON ``payload`` in the body.

    :param conn: the SMTP connection, or the error met reading it (raised here), or ``None`` when none is set.
    :param payload: the redacted alert payload; its event and collection (or table, or DAG) make the subject.
    :param text: the readable summary of the payload.
    :param timeout: seconds for connecting and for each SMTP command.
    :raises SettingError: when the recipients, the sender or the connection are unusable.
    """
    recipients, sender = email_recipients(), email_sender()
    if not isinstance(conn, SmtpConnection):
        raise conn or SettingError(f"{SMTP_CONN_ID_ENV} is not set")
    about = payload.get("collection") or payload.get("table") or payload.get("dag_id") or "-"
    subject = f"[vectorops] {payload['event']}: {about}"
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())[:250]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(f"{text}\n\nAlert payload (JSON):\n{json.dumps(payload, indent=2, sort_keys=True)}\n")
    _send_message(conn, message, timeout)


def _send_message(conn: SmtpConnection, message: EmailMessage, timeout: float) -> None:
    """Send over SMTPS, STARTTLS or plain SMTP (see :attr:`SmtpConnection.security`); log in when there is a login."""
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


def _flag(extra: Mapping[str, Any], key: str, negated_key: str) -> bool | None:
    """``extra[key]``, else ``not extra[negated_key]``, else ``None``; accepts booleans and their spellings."""
    for name, flip in ((key, False), (negated_key, True)):
        if name in extra and extra[name] not in (None, ""):
            raw = extra[name]
            value = raw.strip().lower() in ("true", "1", "yes", "on") if isinstance(raw, str) else bool(raw)
            return value != flip
    return None
