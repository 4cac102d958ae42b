"""Airflow connections for the stages: a connection by id, read and parsed by Airflow itself.

This is the one module of :mod:`vectorops.airflow` that the lower stages (``db``, ``chroma``, ``alerts``, the
``redaction`` helpers) may import: it is their only way to Airflow, and import-linter holds every other module of
theirs to no ``airflow`` import at all. Stdlib only at module level, so importing it costs nothing outside Airflow
(DAG files import it through the alert modules); each function imports the Airflow it needs.

- :func:`parse_connection` reads the value of an ``AIRFLOW_CONN_*`` variable with Airflow's own parser (the task
  SDK's ``Connection.from_uri`` / ``from_json``, as its environment-variables secrets backend does): a URI
  (``postgresql://user:pass%40word@host:5432/dbname?sslmode=require``, query values kept as strings) or Airflow's
  JSON (``{"conn_type": ..., "host": ..., "login": ..., "password": ..., "schema": ..., "extra": {...}}``);
- :func:`airflow_connection` and :func:`find_airflow_connection` ask Airflow for a connection by id
  (``BaseHook.get_connection``: the task's secrets backends, the metadata database, ``AIRFLOW_CONN_*``);
- :func:`postgres_conninfo` gives a PostgreSQL connection as a libpq conninfo string through
  :class:`~vectorops.airflow.pgvector_hook.PgvectorTargetHook` (the postgres provider: every libpq extra, ``iam``);
- :func:`airflow_loaded` says whether this process runs Airflow, and :func:`mask_secret` hands a value to Airflow's
  secrets masker there (a no-op elsewhere).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Connection

#: the connection of the target database (:class:`~vectorops.airflow.pgvector_hook.PgvectorTargetHook`'s default)
TARGET_CONN_ID = "vectorops_postgres"
#: the connection types a PostgreSQL connection may have (Airflow writes ``postgresql://`` as ``postgres``)
POSTGRES_CONN_TYPES = ("postgres", "")


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
    """The value of an ``AIRFLOW_CONN_*`` variable, parsed as Airflow parses it: JSON when it starts with ``{``,
    else a URI.

    :param value: the variable's value, stripped.
    :raises ValueError: or :class:`TypeError`, when ``value`` is neither form or its extra is not a JSON object;
        the message never quotes the value (it holds the password).
    """
    return _parts(airflow_parse(value, "parsed"))


def airflow_parse(value: str, conn_id: str) -> Connection:
    """``value`` as the Airflow connection ``conn_id`` (the task SDK's ``Connection``); see :func:`parse_connection`.

    :param value: an ``AIRFLOW_CONN_*`` value, stripped.
    :param conn_id: the id the connection gets.
    :raises ValueError: or :class:`TypeError`, as :func:`parse_connection`.
    """
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowException

    if not value.startswith("{") and "://" not in value:
        raise ValueError("not a connection URI (<conn_type>://...) or Airflow JSON")
    try:
        conn = Connection.from_json(value, conn_id=conn_id) if value.startswith("{") \
            else Connection.from_uri(value, conn_id=conn_id)
    except AirflowException:  # its message quotes the URI, password included
        raise ValueError("not a valid Airflow connection URI") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if conn.extra:
        try:
            extra = json.loads(conn.extra)
        except json.JSONDecodeError:
            raise ValueError("its extra is not JSON") from None
        if not isinstance(extra, dict):  # Airflow would log it and read no extras at all
            raise ValueError("its extra is not a JSON object")
    return conn


def _parts(conn: Any) -> ConnectionParts:
    return ConnectionParts(conn_type=conn.conn_type or "", host=conn.host or "", port=conn.port,
                           login=conn.login or None, password=conn.password or None, schema=conn.schema or None,
                           extra=dict(conn.extra_dejson))


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

    return _parts(BaseHook.get_connection(conn_id))


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


def postgres_conninfo(conn_id: str, *, value: str | None = None, iam: bool = True) -> str | None:
    """PostgreSQL connection ``conn_id`` as a libpq conninfo string, built by
    :class:`~vectorops.airflow.pgvector_hook.PgvectorTargetHook` (all libpq extras; a token for ``iam``); ``None``
    when Airflow does not define it. Imports Airflow and the postgres provider.

    :param conn_id: the connection id.
    :param value: an ``AIRFLOW_CONN_*`` value to read (with :func:`airflow_parse`) instead of asking Airflow.
    :param iam: turn an ``iam`` connection's login into a token (``False``: the login as configured, no password).
    :raises ValueError: one line (never the password) when it is not a PostgreSQL connection with a host, an
        extra is not a libpq parameter, or its ``iam`` needs a provider that is not installed.
    """
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowOptionalProviderFeatureException
    from psycopg import ProgrammingError

    from vectorops.airflow.pgvector_hook import PgvectorTargetHook

    hook = PgvectorTargetHook(postgres_conn_id=conn_id,
                              connection=None if value is None else airflow_parse(value, conn_id))
    try:
        conn = hook.connection
    except AirflowNotFoundException:
        return None
    if (conn.conn_type or "") not in POSTGRES_CONN_TYPES:
        raise ValueError(f"its type is {conn.conn_type!r}, not postgres")
    if not conn.host:
        raise ValueError("it has no host")
    try:
        return str(hook.conninfo(iam=iam))
    except ProgrammingError as exc:  # libpq's "invalid connection option" names the extra, never a value
        raise ValueError(f"an extra is not a libpq parameter: {str(exc).strip()}") from None
    except AirflowOptionalProviderFeatureException as exc:
        raise ValueError(f"its iam extra needs a provider: {exc}") from None


def mask_secret(value: str | None) -> None:
    """Hide ``value`` from the task logs with Airflow's secrets masker; a no-op outside Airflow or when empty.

    :param value: a password, token or header value.
    """
    if not value or not airflow_loaded():
        return
    from airflow.sdk.log import mask_secret as airflow_mask_secret

    airflow_mask_secret(value)
