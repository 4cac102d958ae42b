"""Alerts for failed validations, migration gates and tasks, delivered by Airflow's notifiers.

The channels are Airflow connections named in the environment (:mod:`vectorops.alerts.settings`), each on only
when configured: a generic JSON webhook, Slack and e-mail, sent by :mod:`vectorops.airflow.alert_delivery`.
:func:`send_alert` never raises, and credentials are redacted from everything it sends or logs by Airflow's
secrets masker (:mod:`vectorops.redaction`). Stdlib only at module level: the CLI and DAG files import this
module; Airflow's providers are imported when an alert goes out.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

from vectorops.alerts import settings
from vectorops.alerts.settings import AlertSettings, alert_settings_from_env
from vectorops.errors import SettingError
from vectorops.redaction import REDACTED, describe_error, known_secrets, redact

__all__ = ["REDACTED", "AlertEvent", "AlertSettings", "ChannelResult", "alert_settings_from_env", "redact",
           "run_url", "send_alert", "summary_text"]

log = logging.getLogger(__name__)

#: the longest ``message`` an alert carries (an error's text can be a whole SQL statement)
MAX_MESSAGE_CHARS = 4000


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
        payload: dict[str, Any] = redact(_jsonable({f.name: getattr(self, f.name) for f in fields(self)}),
                                         known_secrets())
        return payload


@dataclass(frozen=True)
class ChannelResult:
    """Outcome of one channel of one :func:`send_alert` call; ``error`` is redacted."""

    channel: str
    ok: bool
    error: str | None = None


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


def send_alert(event: AlertEvent) -> list[ChannelResult]:
    """Send ``event`` to every configured channel. Never raises: a failing channel is logged and reported.

    :param event: the alert.
    :return: one result per configured channel (empty when none is configured; the alert is then logged).
    """
    channels = settings.configured_channels()
    ready: dict[str, str | Exception] = {}
    for name in channels:
        # Read first, so that the connection's secrets are masked before the alert is built.
        try:
            from vectorops.airflow import alert_delivery

            conn_id = settings.channel_conn_id(name)
            assert conn_id is not None
            if name == "smtp":  # the recipients and sender first: without them no connection helps
                settings.email_recipients(), settings.email_sender()
            alert_delivery.check_connection(name, conn_id, settings.CHANNELS[name])
            ready[name] = conn_id
        except Exception as exc:
            ready[name] = exc
    try:
        payload = event.payload()
        text = summary_text(payload)
    except Exception as exc:  # a broken event must not hide the failure being reported
        log.warning("could not build the vectorops alert %r: %s", getattr(event, "event", None),
                    describe_error(exc, known_secrets()))
        return [ChannelResult("alert", False, "could not build the alert")]
    body = json.dumps(payload, sort_keys=True)
    if not channels:
        log.info("vectorops alert (no alert channel configured): %s", body)
        return []
    log.info("vectorops alert to %s: %s", ", ".join(channels), body)
    results = []
    for name, checked in ready.items():
        try:
            if isinstance(checked, Exception):
                raise checked
            _deliver(name, checked, payload, text)
        except Exception as exc:
            error = describe_error(exc, known_secrets())
            log.warning("vectorops alert channel %s failed: %s", name, error)
            results.append(ChannelResult(name, False, error))
        else:
            results.append(ChannelResult(name, True))
    return results


def _deliver(channel: str, conn_id: str, payload: Mapping[str, Any], text: str) -> None:
    from vectorops.airflow import alert_delivery

    if channel == "smtp":
        about = payload.get("collection") or payload.get("table") or payload.get("dag_id") or "-"
        subject = " ".join(f"[vectorops] {payload['event']}: {about}".split())[:250]
        alert_delivery.send_email(conn_id, to=settings.email_recipients(), sender=settings.email_sender(),
                                  subject=subject, text=text, payload=payload)
        return
    try:
        timeout = settings.timeout_s()
    except SettingError as exc:
        log.warning("%s; using %s s", exc, settings.DEFAULT_TIMEOUT_S)
        timeout = settings.DEFAULT_TIMEOUT_S
    if channel == "webhook":
        alert_delivery.post_webhook(conn_id, payload, timeout)
    else:
        alert_delivery.post_slack(conn_id, text, timeout)


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
