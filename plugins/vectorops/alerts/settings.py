"""The alert channels an operator configured: Airflow connection ids, e-mail recipients and sender, the timeout.

Each channel is on when its connection id is set (docs/alerts.md). The webhook URLs of earlier versions
(``VECTOROPS_ALERT_WEBHOOK``, ``VECTOROPS_ALERT_SLACK_WEBHOOK``) are refused in one line naming the setting that
replaced them: ignoring them would drop the alerts they were set for. Stdlib only: DAG files import this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vectorops.errors import SettingError

WEBHOOK_CONN_ID_ENV = "VECTOROPS_ALERT_WEBHOOK_CONN_ID"
SLACK_CONN_ID_ENV = "VECTOROPS_ALERT_SLACK_CONN_ID"
SMTP_CONN_ID_ENV = "VECTOROPS_ALERT_SMTP_CONN_ID"
EMAIL_TO_ENV = "VECTOROPS_ALERT_EMAIL_TO"
EMAIL_FROM_ENV = "VECTOROPS_ALERT_EMAIL_FROM"
TIMEOUT_ENV = "VECTOROPS_ALERT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 10.0
#: channel name → the variable naming its Airflow connection, in sending order
CHANNELS = {"webhook": WEBHOOK_CONN_ID_ENV, "slack": SLACK_CONN_ID_ENV, "smtp": SMTP_CONN_ID_ENV}
# The URL variables of earlier versions: still read, to refuse them (docker-compose.yaml passes them on for that).
OLD_WEBHOOK_ENV = "VECTOROPS_ALERT_WEBHOOK"
OLD_SLACK_WEBHOOK_ENV = "VECTOROPS_ALERT_SLACK_WEBHOOK"


@dataclass(frozen=True)
class AlertSettings:
    """The alert channels configured in the environment (see :func:`alert_settings_from_env`)."""

    webhook_conn_id: str | None = None
    slack_conn_id: str | None = None
    smtp_conn_id: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str = "vectorops@localhost"
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def channels(self) -> list[str]:
        """Names of the enabled channels."""
        enabled = (("webhook", self.webhook_conn_id), ("slack", self.slack_conn_id), ("smtp", self.smtp_conn_id))
        return [name for name, value in enabled if value]


def alert_settings_from_env() -> AlertSettings:
    """Read :class:`AlertSettings` from the environment.

    :raises SettingError: naming the variable whose value is unusable.
    """
    for channel in CHANNELS:
        channel_conn_id(channel)
    smtp_conn_id = _env(SMTP_CONN_ID_ENV)
    return AlertSettings(
        webhook_conn_id=_env(WEBHOOK_CONN_ID_ENV), slack_conn_id=_env(SLACK_CONN_ID_ENV),
        smtp_conn_id=smtp_conn_id, email_to=email_recipients() if smtp_conn_id else (), email_from=email_sender(),
        timeout_s=timeout_s())


def configured_channels() -> list[str]:
    """The channels an alert goes to: those with a connection id set, or begun without one (the URL variables of
    earlier versions, e-mail recipients without a connection), which then fail with the missing setting named."""
    # Recipients without a connection are an e-mail channel left half set up: refused, not dropped.
    started = {**_old_urls(), "smtp": _env(EMAIL_TO_ENV)}
    return [name for name, var in CHANNELS.items() if _env(var) or started.get(name)]


def channel_conn_id(channel: str) -> str | None:
    """The Airflow connection id of ``channel`` (``webhook``, ``slack``, ``smtp``), ``None`` when it is off.

    :raises SettingError: when the channel's URL variable of earlier versions is still set, or e-mail recipients
        are set without a connection.
    """
    old = {"webhook": OLD_WEBHOOK_ENV, "slack": OLD_SLACK_WEBHOOK_ENV}.get(channel)
    if old and _old_urls().get(channel):
        # Only the names: the old value is a webhook URL, a secret as a whole.
        raise SettingError(f"{old} is no longer read: put the URL in an Airflow connection and name it in "
                           f"{CHANNELS[channel]} (docs/alerts.md), then unset {old}")
    conn_id = _env(CHANNELS[channel])
    if conn_id and "://" in conn_id:  # a URL pasted where a connection id goes: a secret, so not quoted
        raise SettingError(f"{CHANNELS[channel]} holds a URL; it names an Airflow connection that holds the URL "
                           "(docs/alerts.md)")
    if channel == "smtp" and conn_id is None and _env(EMAIL_TO_ENV):
        raise SettingError(f"{EMAIL_TO_ENV} is set but {SMTP_CONN_ID_ENV} is not: name the Airflow smtp connection "
                           "to send the e-mail through")
    return conn_id


def email_recipients() -> tuple[str, ...]:
    """The addresses in ``VECTOROPS_ALERT_EMAIL_TO`` (comma-separated).

    :raises SettingError: when it lists none, or an entry is not an e-mail address.
    """
    recipients = tuple(r.strip() for r in (os.environ.get(EMAIL_TO_ENV) or "").split(",") if r.strip())
    if not recipients:
        raise SettingError(f"{EMAIL_TO_ENV} must list at least one recipient when {SMTP_CONN_ID_ENV} is set")
    bad = [r for r in recipients if "@" not in r or any(c.isspace() or c == ";" for c in r)]
    if bad:
        raise SettingError(f"{EMAIL_TO_ENV} has invalid address(es): {', '.join(bad)}")
    return recipients


def email_sender() -> str:
    """The address in ``VECTOROPS_ALERT_EMAIL_FROM``, ``vectorops@localhost`` when unset.

    :raises SettingError: when it is not an e-mail address.
    """
    sender = _env(EMAIL_FROM_ENV) or "vectorops@localhost"
    if "@" not in sender or any(c.isspace() for c in sender):
        raise SettingError(f"{EMAIL_FROM_ENV}={sender!r} is not an e-mail address")
    return sender


def timeout_s() -> float:
    """Seconds a webhook or Slack post may take, ``VECTOROPS_ALERT_TIMEOUT_S`` (10 by default).

    :raises SettingError: when it is not a positive number.
    """
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


def _old_urls() -> dict[str, str | None]:
    return {"webhook": _env(OLD_WEBHOOK_ENV), "slack": _env(OLD_SLACK_WEBHOOK_ENV)}


def _env(name: str) -> str | None:
    return (os.environ.get(name) or "").strip() or None
