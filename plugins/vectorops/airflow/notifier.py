"""Airflow failure callbacks that send a vectorops alert: ``on_failure_callback=VectoropsNotifier()``.

DAG files import this module at parse time, so it imports only the stdlib, ``airflow.sdk`` and
:mod:`vectorops.alerts.send`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseNotifier

from vectorops.alerts.send import MAX_MESSAGE_CHARS, AlertEvent, run_url, send_alert

log = logging.getLogger(__name__)

# load_chunk labels its map index "<collection> #<chunk>"; Chroma names never hold spaces.
_CHUNK_SUFFIX = re.compile(r" #\d+$")


class VectoropsNotifier(BaseNotifier):
    """Send a vectorops alert for a failed task or DAG run; never raises.

    :param event: the alert's event name, ``task_failed`` unless given.
    """

    def __init__(self, event: str = "task_failed") -> None:
        super().__init__()
        self.event = event

    def notify(self, context: Mapping[str, Any]) -> None:
        """Build the alert from the Airflow context and send it to the configured channels.

        :param context: the context Airflow passes to callbacks.
        """
        notify_failure(context, event=self.event)

    def __call__(self, *args: Any) -> None:
        """Run as a callback; unlike :class:`BaseNotifier` it never raises, so it cannot mask the failure.

        There are no template fields, so nothing is rendered: rendering needs the context's DAG to carry a
        template environment, and the serialized DAG that ``dag.test()`` hands to DAG callbacks has none.
        """
        context = args[0] if len(args) == 1 else {"dag": args[0] if args else None}
        notify_failure(context, event=self.event)


def alerted_failure(message: str, failed_expectations: list[dict[str, Any]] | None = None) -> Exception:
    """The exception for a task that has sent its own alert: it fails without retries, and the failure callback
    (:func:`notify_failure`) sends no second alert.

    :param message: the failure, for the task log.
    :param failed_expectations: what failed, for anything else that reads the exception.
    :return: an ``AirflowFailException`` carrying ``vectorops_alerted = True``; raise it.
    """
    from airflow.sdk.exceptions import AirflowFailException

    error = AirflowFailException(message)
    error.vectorops_alerted = True  # type: ignore[attr-defined]
    if failed_expectations is not None:
        error.failed_expectations = failed_expectations  # type: ignore[attr-defined]
    return error


def notify_failure(context: Mapping[str, Any], event: str = "task_failed") -> None:
    """Send an alert for a failure described by an Airflow callback context; never raises.

    Nothing is sent when the exception has ``vectorops_alerted = True``: the task already sent a richer alert.

    :param context: the context Airflow passes to ``on_failure_callback``.
    :param event: the alert's event name.
    """
    try:
        if getattr(context.get("exception"), "vectorops_alerted", False):
            log.info("vectorops alert already sent by the task; the failure callback sends none")
            return
        send_alert(alert_event_from_context(context, event))
    except Exception as exc:  # send_alert does not raise; reading an odd context might
        log.warning("vectorops failure alert could not be built: %s", type(exc).__name__)


def alert_event_from_context(context: Mapping[str, Any], event: str = "task_failed") -> AlertEvent:
    """The :class:`AlertEvent` for an Airflow callback context (task- or DAG-level).

    An exception may carry ``collection``, ``table`` and ``failed_expectations`` attributes; they go into the alert.

    :param context: the callback context: ``dag``, ``dag_run``, ``run_id``, ``ti``, ``task``, ``params``,
        ``exception`` (task callbacks) or ``reason`` (DAG callbacks), and ``collection`` when the task set it.
    :param event: the alert's event name.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = _first(getattr(context.get("dag"), "dag_id", None), getattr(dag_run, "dag_id", None),
                    getattr(ti, "dag_id", None))
    run_id = _first(context.get("run_id"), getattr(dag_run, "run_id", None), getattr(ti, "run_id", None))
    error = context.get("exception")
    if isinstance(error, BaseException):
        message: str | None = f"{type(error).__name__}: {error}"
    else:
        message = _first(error, context.get("reason"))
    expectations = getattr(error, "failed_expectations", None)
    return AlertEvent(
        event=event,
        dag_id=dag_id,
        run_id=run_id,
        collection=_first(getattr(error, "collection", None), context.get("collection"), _collection_param(context),
                          _map_label(ti)),
        table=_first(getattr(error, "table", None), context.get("table")),
        failed_expectations=list(expectations) if isinstance(expectations, list | tuple) else [],
        run_url=run_url(dag_id, run_id),
        message=message[:MAX_MESSAGE_CHARS] if message else None,
        task_id=_first(getattr(ti, "task_id", None), getattr(context.get("task"), "task_id", None)),
    )


def _first(*values: Any) -> str | None:
    return next((str(v) for v in values if v not in (None, "")), None)


def _collection_param(context: Mapping[str, Any]) -> str | None:
    params = context.get("params")
    if not isinstance(params, Mapping):
        return None
    if params.get("collection"):
        return str(params["collection"])
    many = params.get("collections")
    return str(many[0]) if isinstance(many, list | tuple) and len(many) == 1 else None


def _map_label(ti: Any) -> str | None:
    label = getattr(ti, "rendered_map_index", None)
    return _CHUNK_SUFFIX.sub("", label) if isinstance(label, str) and label else None
