"""Airflow connections for the stages: a connection by id, read through Airflow or parsed from ``AIRFLOW_CONN_*``.

This is the one module of :mod:`vectorops.airflow` that the lower stages (``db``, ``chroma``, ``alerts``, the
``redaction`` helpers) may import: it is their only way to Airflow, and import-linter holds every other module of
theirs to no ``airflow`` import at all. Stdlib only at module level, so importing it costs nothing outside Airflow:
:mod:`vectorops.alerts.send` imports this module through :mod:`vectorops.alerts.smtp`, and DAG files import that one.

- :func:`parse_connection` reads the value of an ``AIRFLOW_CONN_*`` variable the way Airflow does, without
  Airflow, in both forms: a URI (``postgresql://user:pass%40word@host:5432/dbname?sslmode=require``) and Airflow's
  JSON (``{"conn_type": ..., "host": ..., "login": ..., "password": ..., "schema": ..., "extra": {...}}``);
- :func:`airflow_connection` and :func:`find_airflow_connection` ask Airflow itself (``BaseHook.get_connection``:
  the task's secrets backends, the metadata database, ``AIRFLOW_CONN_*``); they import Airflow;
- :func:`airflow_loaded` says whether this process runs Airflow, and :func:`mask_secret` hands a value to Airflow's
  secrets masker there (a no-op elsewhere).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class ConnectionParts:
    """The fields of an Airflow connection.

    :param schema: Airflow's name for the URI's path: the database of a PostgreSQL connection.
    """

    conn_type: str
    host: str
    port: int | None
    login: str | None
    password: str | None = field(repr=False)
    schema: str | None
    extra: dict[str, Any]


def parse_connection(value: str) -> ConnectionParts:
    """The value of an ``AIRFLOW_CONN_*`` variable: Airflow's JSON form when it starts with ``{``, else a URI.

    :param value: the variable's value, stripped.
    :raises ValueError: or :class:`TypeError`, when ``value`` is neither form.
    """
    return _parse_json(value) if value.startswith("{") else _parse_uri(value)


def _parse_uri(uri: str) -> ConnectionParts:
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
    return ConnectionParts(conn_type=parts.scheme.replace("-", "_"), host=unquote(parts.hostname or ""),
                           port=parts.port, login=unquote(parts.username) if parts.username else None,
                           password=unquote(parts.password) if parts.password else None,
                           schema=unquote(parts.path.lstrip("/")) or None, extra=extra)


def _parse_json(value: str) -> ConnectionParts:
    doc = json.loads(value)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    extra = doc.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    if not isinstance(extra, dict):
        raise ValueError("extra is not a JSON object")
    port = doc.get("port")
    return ConnectionParts(conn_type=str(doc.get("conn_type") or ""), host=str(doc.get("host") or ""),
                           port=int(port) if port not in (None, "") else None, login=doc.get("login") or None,
                           password=doc.get("password") or None, schema=doc.get("schema") or None, extra=extra)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value) if value else value
    except json.JSONDecodeError:
        return value


def airflow_loaded() -> bool:
    """Whether this process runs Airflow (its task SDK is imported already).

    Outside Airflow, importing it only to ask would cost seconds and find nothing that ``AIRFLOW_CONN_*`` does not
    hold.
    """
    return "airflow.sdk" in sys.modules


def airflow_connection(conn_id: str) -> ConnectionParts:
    """Connection ``conn_id`` read through Airflow (``BaseHook.get_connection``: the task's secrets backends and
    metadata database; outside a task, ``AIRFLOW_CONN_*`` variables and the configured backends). Imports Airflow.

    :param conn_id: the connection id.
    :raises airflow.sdk.exceptions.AirflowNotFoundException: when it is not defined; Airflow's other errors (a
        secrets backend's denial or outage, a malformed value) as Airflow raises them.
    """
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return ConnectionParts(conn_type=conn.conn_type or "", host=conn.host or "", port=conn.port,
                           login=conn.login, password=conn.password, schema=conn.schema,
                           extra=dict(conn.extra_dejson))


def find_airflow_connection(conn_id: str) -> ConnectionParts | None:
    """:func:`airflow_connection`, or ``None`` when Airflow has no connection ``conn_id``.

    :param conn_id: the connection id.
    :raises Exception: Airflow's errors other than "not defined", as Airflow raises them.
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return airflow_connection(conn_id)
    except AirflowNotFoundException:
        return None


def mask_secret(value: str | None) -> None:
    """Hide ``value`` from the task logs with Airflow's secrets masker; a no-op outside Airflow or when empty.

    :param value: a password, token or header value.
    """
    if not value or not airflow_loaded():
        return
    from airflow.sdk.log import mask_secret as airflow_mask_secret

    airflow_mask_secret(value)
