"""Alert delivery through Airflow's notifiers, each over an Airflow connection (docs/alerts.md).

- e-mail: the SMTP provider's ``SmtpNotifier`` (connection type ``smtp``: TLS, STARTTLS and login as ``SmtpHook``
  reads them from the connection);
- Slack: the Slack provider's ``SlackWebhookNotifier`` (connection type ``slackwebhook``, the token as password);
- a generic JSON webhook: :class:`JsonWebhookNotifier`, the alert payload POSTed as JSON by the HTTP provider's
  ``HttpHook`` (connection type ``http``, the webhook URL as host; extras are sent as headers).

The connections are Airflow's: inside a task the task's secrets backends and the metadata database, outside one
(the CLI) ``AIRFLOW_CONN_*`` and the configured secrets backends. Reading one hands its password and sensitive
extras to Airflow's secrets masker. The notifiers are called with ``notify`` directly: an alert's text is never
rendered as a Jinja template.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret

from vectorops.errors import SettingError

_FALSE_WORDS = {"false", "0", "no", "off", ""}
# Shorter path segments are words ("alerts", "v1"), not tokens.
_TOKEN_MIN_CHARS = 16
# The connection types each channel's hook reads (an http webhook's URI may say https).
_CONN_TYPES = {"webhook": ("http", "https"), "slack": ("slackwebhook",), "smtp": ("smtp",)}


class JsonWebhookNotifier(BaseNotifier):
    """POST a JSON document to the URL of an Airflow ``http`` connection with ``HttpHook``.

    :param http_conn_id: the connection; its host is the webhook URL, its extras extra headers, its login and
        password HTTP basic auth.
    :param payload: the JSON document; sent as given, never rendered.
    :param timeout: seconds to connect and to read the answer.
    """

    template_fields = ()

    def __init__(self, *, http_conn_id: str, payload: Mapping[str, Any], timeout: float) -> None:
        super().__init__()
        self.http_conn_id = http_conn_id
        self.payload = payload
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        """POST the payload; an answer outside 2xx raises, naming its status (``AirflowException`` from 400).

        :param context: unused: the payload is complete.
        """
        from airflow.providers.http.hooks.http import HttpHook

        # no redirects: requests would follow a 301/302 with a GET, and the payload would be lost as "sent"
        response = HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            json=dict(self.payload), headers={"User-Agent": "vectorops-alerts"},
            extra_options={"timeout": self.timeout, "allow_redirects": False, "check_response": True})
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"the webhook answered HTTP {response.status_code} (a redirect is not followed: a "
                               "redirected POST arrives without its payload); give the final URL as the host")


def check_connection(channel: str, conn_id: str, setting: str) -> None:
    """Read connection ``conn_id`` of ``channel`` through Airflow, so that its secrets are masked before the alert
    is built, and refuse what the channel's hook would misread.

    :param channel: ``webhook``, ``slack`` or ``smtp``.
    :param conn_id: the connection id.
    :param setting: the variable that named it, for the message.
    :raises SettingError: naming the connection and the setting when it is not defined or unusable.
    """
    where = f"Airflow connection {conn_id!r} ({setting})"
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        if (os.environ.get(var) or "").strip():
            # Airflow's environment backend skips a value it cannot parse, then reports the connection missing.
            raise SettingError(f"{where}: {var} is set but Airflow cannot read it as a connection URI or JSON") \
                from None
        if _in_task():
            raise SettingError(f"{where} is not defined: set {var} or add it to Airflow") from None
        raise SettingError(f"{where} is not defined: set {var} (outside a task, as in the CLI, Airflow reads "
                           "connections from AIRFLOW_CONN_* variables and secrets backends, not its database)") \
            from None
    if conn.conn_type not in _CONN_TYPES[channel]:
        raise SettingError(f"{where} is of type {conn.conn_type!r}; the {channel} channel needs "
                           f"{' or '.join(map(repr, _CONN_TYPES[channel]))}")
    extra = conn.extra_dejson if conn.extra else {}
    if channel == "webhook":
        url = conn.host or ""
        if "://" not in url and conn.schema not in (None, "", "http", "https"):
            # HttpHook takes the URI's path for the protocol ("<path>://host"); the path itself may be the secret.
            raise SettingError(f"{where}: Airflow's HttpHook reads the path of a connection URI as its protocol; "
                               'give the whole webhook URL as the host: {"conn_type": "http", "host": "https://..."}')
        if not url:
            raise SettingError(f"{where} has no host: give the webhook URL as its host")
        secure = conn.conn_type == "https" or (conn.schema or "").lower() == "https"
        if secure and not url.lower().startswith("https://"):
            # HttpHook takes the scheme from the host, else from schema (default http), never from the type
            found = "says http" if "://" in url else "has no scheme"
            raise SettingError(f"{where} is of type https but its host {found}: HttpHook would POST over plain "
                               "http; give the host as https://...")
        # A webhook's URL often holds its token (Slack-like paths, ?token=); Airflow masks only password and
        # extras. Hidden: the URL, and each path segment or query value long enough to be a token.
        parts = urlsplit(url)
        for value in (url, *parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))):
            if value == url or len(value) >= _TOKEN_MIN_CHARS:
                mask_secret(value)
        for value in extra.values():  # "Bearer <token>": a receiver's error page may quote the bare token
            scheme, _, token = str(value).partition(" ")
            if token.strip() and scheme.lower() in ("bearer", "token", "basic"):
                mask_secret(token.strip())
    elif channel == "smtp":
        if not conn.host:
            raise SettingError(f"{where} has no host")
        for key in ("disable_ssl", "disable_tls"):
            if isinstance(extra.get(key), str) and extra[key].strip().lower() in _FALSE_WORDS:
                # SmtpHook tests the extra's truth: the string "false" would switch TLS off.
                raise SettingError(f"{where}: extra {key}={extra[key]!r} is a string, which SmtpHook reads as "
                                   f"true; write it as a JSON boolean or leave it out")


def _in_task() -> bool:
    """Whether this process runs a task (its supervisor answers connection lookups from the metadata database)."""
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def post_webhook(conn_id: str, payload: Mapping[str, Any], timeout: float) -> None:
    """POST ``payload`` as JSON to the webhook of connection ``conn_id`` (:class:`JsonWebhookNotifier`).

    :param conn_id: an ``http`` connection whose host is the webhook URL.
    :param payload: the redacted alert payload.
    :param timeout: seconds.
    """
    JsonWebhookNotifier(http_conn_id=conn_id, payload=payload, timeout=timeout).notify({})


def post_slack(conn_id: str, text: str, timeout: float) -> None:
    """Post ``text`` to the Slack incoming webhook of connection ``conn_id`` (``SlackWebhookNotifier``).

    :param conn_id: a ``slackwebhook`` connection.
    :param text: the message.
    :param timeout: seconds, rounded up to whole seconds as the Slack client takes them.
    """
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=text, timeout=math.ceil(timeout)).notify(  # type: ignore[no-untyped-call]
        {})


def send_email(conn_id: str, *, to: tuple[str, ...], sender: str, subject: str, text: str,
               payload: Mapping[str, Any]) -> None:
    """E-mail ``text`` and then the JSON ``payload`` over SMTP connection ``conn_id`` (``SmtpNotifier``).

    :param conn_id: an ``smtp`` connection; its ``timeout`` and ``retry_limit`` extras bound the attempt.
    :param to: the recipients.
    :param sender: the From address (``VECTOROPS_ALERT_EMAIL_FROM``); unset, the connection's ``from_email`` extra
        wins over vectorops' default.
    :param subject: one line.
    :param text: the readable summary of the payload.
    :param payload: the redacted alert payload.
    """
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    body = f"{text}\n\nAlert payload (JSON):\n{json.dumps(payload, indent=2, sort_keys=True)}\n"
    if not (os.environ.get("VECTOROPS_ALERT_EMAIL_FROM") or "").strip():
        # the connection's own sender (the SMTP provider's from_email extra) before vectorops' default
        sender = BaseHook.get_connection(conn_id).extra_dejson.get("from_email") or sender
    SmtpNotifier(to=list(to), from_email=sender, subject=subject, smtp_conn_id=conn_id,
                 html_content=f"<pre>{html.escape(body, quote=False)}</pre>").notify({})
