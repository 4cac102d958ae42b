"""The target database as an Airflow connection: :class:`PgvectorTargetHook`, a ``PostgresHook`` for vectorops.

The postgres provider reads the connection (any secrets backend, the metadata database, ``AIRFLOW_CONN_*``),
passes every extra that is not its own (``sslmode``, ``sslrootcert``, ``options``, ``target_session_attrs``, any
libpq parameter) to libpq, and turns ``iam`` into a token (AWS RDS / Redshift through the amazon provider, Azure
through ``azure_conn_id``). vectorops' steps connect with a libpq conninfo string, so this hook gives that string:
the parameters ``PostgresHook.get_conn`` connects with, built the same way.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook
from psycopg.conninfo import make_conninfo

#: the connection of the target database when none is named (``connections.TARGET_CONN_ID``, which the stages read
#: without importing the provider)
DEFAULT_CONN_ID = "vectorops_postgres"
#: the database of a connection that names none (its ``schema`` field is empty)
DEFAULT_DATABASE = "vectorops"


class PgvectorTargetHook(PostgresHook):
    """The PostgreSQL + pgvector database vectorops writes, through a ``postgres`` Airflow connection.

    Everything ``PostgresHook`` does works (``get_conn``, ``get_records``, ``get_sqlalchemy_engine``); in
    addition :meth:`conninfo` gives the connection as a libpq string for code that connects with psycopg itself.

    :param postgres_conn_id: the connection (default ``vectorops_postgres``).
    """

    default_conn_name = DEFAULT_CONN_ID
    hook_name = "vectorops target (PostgreSQL + pgvector)"

    def connect_kwargs(self, *, iam: bool = True) -> dict[str, Any]:
        """The keyword arguments ``PostgresHook.get_conn`` hands to psycopg, with the database defaulting to
        ``vectorops``.

        :param iam: when the connection has the ``iam`` extra, ask for a token (the provider's
            ``get_iam_token``) as the password; ``False`` gives the login as configured, without a password.
        :raises airflow.exceptions.AirflowOptionalProviderFeatureException: an ``iam`` connection without the
            amazon (or azure) provider installed.
        """
        conn = deepcopy(self.connection)
        if conn.extra_dejson.get("iam", False):
            if iam:
                conn.login, conn.password, conn.port = self.get_iam_token(conn)
            else:
                conn.password = None
        kwargs: dict[str, Any] = {"host": conn.host, "user": conn.login, "password": conn.password,
                                  "dbname": self.database or conn.schema or DEFAULT_DATABASE, "port": conn.port}
        if self.options:
            kwargs["options"] = self.options
        kwargs.update({key: value for key, value in conn.extra_dejson.items()
                       if key not in self.ignored_extra_options})
        return kwargs

    def conninfo(self, *, iam: bool = True) -> str:
        """The connection as a libpq conninfo string (``host=... port=... user=... sslmode=...``).

        :param iam: see :meth:`connect_kwargs`.
        :raises psycopg.ProgrammingError: when an extra is not a libpq parameter.
        """
        return make_conninfo("", **{key: _libpq_value(value) for key, value in self.connect_kwargs(iam=iam).items()
                                    if value not in (None, "")})


def _libpq_value(value: Any) -> str:
    """A connection extra as libpq reads it: a JSON boolean is ``1``/``0`` (``"True"`` is no libpq integer)."""
    return ("1" if value else "0") if isinstance(value, bool) else str(value)
