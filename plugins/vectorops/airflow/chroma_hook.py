"""The Chroma server hook: an Airflow connection of type ``chroma`` opens a ``chromadb.HttpClient``.

The connection's fields are described in :mod:`vectorops.chroma.connection`; the client, with TLS, auth, tenant
and database, comes from :func:`vectorops.chroma.server.open_http_client`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from vectorops.airflow.provider_info import CHROMA_FIELD_BEHAVIOUR
from vectorops.chroma import server
from vectorops.errors import SourceError


class ChromaHook(BaseHook):
    """A Chroma server, through an Airflow connection.

    :param chroma_conn_id: the connection (type ``chroma``).
    :param tenant: the tenant to open (default: the connection's ``tenant`` extra, else ``default_tenant``).
    :param database: the database to open (default: the connection's ``database`` extra, else
        ``default_database``).
    """

    conn_name_attr = "chroma_conn_id"
    default_conn_name = "chroma_default"
    conn_type = "chroma"
    hook_name = "Chroma"

    def __init__(self, chroma_conn_id: str = default_conn_name, tenant: str | None = None,
                 database: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chroma_conn_id = chroma_conn_id
        self.tenant = tenant
        self.database = database

    def get_conn(self) -> Any:
        """The ``chromadb.HttpClient`` of the connection, one per process.

        :raises SourceError: one line naming the connection setting to fix.
        """
        spec = server.source_from_connection(self.chroma_conn_id)
        return server.open_http_client(spec, self.tenant, self.database)

    def test_connection(self) -> tuple[bool, str]:
        """The UI's *Test* button: open the client and ask for the server's heartbeat."""
        try:
            self.get_conn().heartbeat()
        except SourceError as exc:
            return False, str(exc)
        return True, "Connection successfully tested"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden and relabelled fields of the form (Airflow 3.2 and later build the form from the provider info,
        :mod:`vectorops.airflow.provider_info`, which also declares the extra fields)."""
        return {"hidden_fields": list(CHROMA_FIELD_BEHAVIOUR["hidden-fields"]),
                "relabeling": dict(CHROMA_FIELD_BEHAVIOUR["relabeling"]),
                "placeholders": dict(CHROMA_FIELD_BEHAVIOUR["placeholders"])}
