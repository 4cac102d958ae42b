"""The Assets of vectorops: the chain between its DAGs, each promoted table, and the Chroma collection it came from.

``chroma_to_pgvector`` (its ``summarize`` task) → :data:`MIGRATIONS` → ``pgvector_data_quality`` (its ``report``
task) → :data:`VALIDATIONS` → ``pgvector_maintenance``. One event per run carries every table in its ``extra``, so
a migration of many collections starts one data-quality run, and that one maintenance run. These two stand for "a
run finished", not for data at a place, so they are name-only Assets: Airflow takes the name as the URI and applies
no scheme's rules to it.

The per-table Assets, added through the aliases, keep each table's own lineage; no DAG is scheduled on them. A
table is ``postgres://host:port/database/schema/table``, the postgres provider's URI (its handler sanitises it and
its converter makes it the OpenLineage dataset ``postgres://host:port`` / ``database.schema.table``). A Chroma
collection is ``<store>/<tenant>/<database>/<name>`` below its store (``chroma+file://localhost/path`` or
``chroma+http(s)://host:port``, :func:`store_namespace`): no provider defines these schemes, so Airflow applies only
its generic normalisation (lower-case scheme, no trailing slash, no fragment, no empty authority), which leaves
these URIs as they are.

DAG files import this module at parse time, so it imports only ``airflow.sdk`` and the standard library.
"""

from __future__ import annotations

from urllib.parse import quote

from airflow.sdk import Asset, AssetAlias

MIGRATED_TABLES = AssetAlias("vectorops_migrated_tables")
VALIDATED_TABLES = AssetAlias("vectorops_validated_tables")
MIGRATIONS = Asset(name="vectorops.migrations")
VALIDATIONS = Asset(name="vectorops.validations")


def table_asset(host: str, port: int, database: str, table: str) -> Asset:
    """The Asset of a live vector table a migration promoted, in the postgres provider's URI form.

    :param host: the target server's host, as clients name it (an IPv6 address is bracketed here).
    :param port: its port.
    :param database: the database holding the table.
    :param table: ``schema.table``.
    """
    schema, _, name = table.partition(".")
    path = "/".join(quote(part, safe="") for part in (database, schema, name))
    netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return Asset(name=f"vectorops.{table}", uri=f"postgres://{netloc}:{port}/{path}")


def store_namespace(store_uri: str) -> str:
    """A Chroma store's URI as its collections' Assets and OpenLineage datasets name it: a local store's path is on
    the workers' own filesystem, ``chroma+file://localhost/path`` (RFC 8089's form, which Airflow's normalisation
    keeps; it would drop the empty authority of ``chroma+file:///path``); a server's stays ``chroma+http(s)://host:port``.

    :param store_uri: the store's URI (:attr:`vectorops.chroma.preflight.SourceSpec.uri`).
    """
    scheme, _, rest = store_uri.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}://{quote(host or 'localhost', safe=':')}{slash}{quote(path, safe='/')}"


def source_asset(store_uri: str, collection_path: str) -> Asset:
    """The Asset of a Chroma collection a migration read: ``<store namespace>/<tenant>/<database>/<name>``.

    :param store_uri: the store's URI (:attr:`vectorops.chroma.preflight.SourceSpec.uri`).
    :param collection_path: ``tenant/database/name``.
    """
    path = "/".join(quote(part, safe="") for part in collection_path.split("/"))
    return Asset(uri=f"{store_namespace(store_uri)}/{path}")


def validated_asset(table: str) -> Asset:
    """The Asset of a passing validation of a live table (a name-only Asset, as :data:`VALIDATIONS`).

    :param table: ``schema.table``.
    """
    return Asset(name=f"vectorops.validated.{table}")
