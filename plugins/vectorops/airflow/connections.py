"""The value of an ``AIRFLOW_CONN_*`` variable, parsed the way Airflow does it, without importing Airflow.

Both forms: a URI (``postgresql://user:pass%40word@host:5432/dbname?sslmode=require``) and Airflow's JSON
(``{"conn_type": ..., "host": ..., "login": ..., "password": ..., "schema": ..., "extra": {...}}``). Stdlib only:
:mod:`vectorops.alerts.send` imports this module through :mod:`vectorops.alerts.smtp`, and DAG files import that one.
"""

from __future__ import annotations

import json
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
