"""A migration's lineage: the target table's Asset, and the OpenLineage event Chroma collection → PostgreSQL table.

The event goes out through the OpenLineage provider's public API (``emit_dataset_lineage``), attributed to the
running ``finalize_collection`` task: its input is the Chroma collection (:func:`~vectorops.airflow.assets.
source_asset`), its output the promoted table as the postgres provider names it, with the table's columns as read
from PostgreSQL (the ``schema`` facet) and the rows loaded (``outputStatistics``). With OpenLineage off (no transport
configured, Airflow's ``[openlineage]`` section), nothing is read or imported beyond the provider's ``conf``.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import psycopg
from airflow.sdk import Asset
from psycopg.conninfo import conninfo_to_dict

from vectorops.airflow.assets import table_asset
from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.connect import connect
from vectorops.db.sql_files import sql_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetDatabase:
    """Where the vector tables are: the server as clients name it, and the database.

    :param host: the host of the DSN (``localhost`` for a Unix socket: this machine).
    :param port: its port.
    :param database: the database.
    """

    host: str
    port: int
    database: str

    def table_asset(self, table: str) -> Asset:
        """The Asset of ``schema.table`` in this database (:func:`vectorops.airflow.assets.table_asset`)."""
        return table_asset(self.host, self.port, self.database, table)


def target_of(settings: Settings) -> TargetDatabase:
    """The target database of ``settings``' DSN, with libpq's defaults (``PGHOST``, ``PGPORT``, ``PGDATABASE``, the
    user's name) where it says nothing; the first of several hosts.

    :param settings: the settings the migration connects with.
    """
    info = conninfo_to_dict(runtime.dsn(settings))
    host = str(info.get("host") or info.get("hostaddr") or os.environ.get("PGHOST") or "").split(",")[0]
    port = str(info.get("port") or os.environ.get("PGPORT") or "5432").split(",")[0]
    database = str(info.get("dbname") or os.environ.get("PGDATABASE") or info.get("user") or "postgres")
    return TargetDatabase(host="localhost" if not host or host.startswith(("/", "@")) else host,
                          port=int(port or 5432), database=database)


def table_columns(settings: Settings, table: str) -> list[tuple[str, str]]:
    """The columns of ``schema.table`` in order, with their types as PostgreSQL writes them (``vector(384)``).

    :param settings: the settings to connect with.
    :param table: ``schema.table``.
    """
    schema, _, name = table.partition(".")
    with connect(runtime.dsn(settings)) as conn:
        return [(str(column), str(type_)) for column, type_ in
                conn.execute(sql_text("lineage/select_table_columns"), {"schema": schema, "table": name})]


def emit_migration_lineage(settings: Settings, target: TargetDatabase, source: Asset, table: str, rows: int) -> None:
    """Send the OpenLineage event of a promoted table, when OpenLineage is configured; a failure is logged as a
    warning and never fails the migration, whose table is already promoted.

    :param settings: the settings to read the table's columns with.
    :param target: the table's database.
    :param source: the Chroma collection's Asset.
    :param table: ``schema.table``.
    :param rows: the rows loaded.
    """
    try:
        _send_lineage(settings, target, source, table, rows)
    except Exception as exc:  # lineage is a report on a promoted table: it never fails the migration
        log.warning("OpenLineage: the lineage of %s is not sent: %s: %s", table, type(exc).__name__, exc)


def _send_lineage(settings: Settings, target: TargetDatabase, source: Asset, table: str, rows: int) -> None:
    """:func:`emit_migration_lineage`'s work; raises what goes wrong."""
    from airflow.providers.openlineage import conf

    if conf.is_disabled():  # raises on a malformed [openlineage] setting: the caller warns
        return
    from airflow.providers.openlineage.api import emit_dataset_lineage
    from airflow.providers.postgres.assets.postgres import convert_asset_to_openlineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset, schema_dataset

    try:
        columns = table_columns(settings, table)
    except psycopg.Error as exc:
        log.warning("OpenLineage: the lineage of %s is not sent: its columns could not be read: %s", table, exc)
        return
    namespace, tenant, database, name = source.uri.rsplit("/", 3)
    named = convert_asset_to_openlineage(target.table_asset(table), None)  # the postgres provider's naming
    output = OutputDataset(
        namespace=named.namespace, name=named.name,
        facets={"schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name=column, type=type_, ordinal_position=position)
            for position, (column, type_) in enumerate(columns, start=1)])},
        outputFacets={"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows)})
    emit_dataset_lineage(inputs=[InputDataset(namespace=namespace, name=f"{tenant}/{database}/{name}")],
                         outputs=[output], raise_on_error=True)
    # the provider's transport reports its own failures (and does not raise them): "handed", not "sent"
    log.info("OpenLineage: lineage %s/%s/%s/%s → %s/%s (%s columns) handed to the OpenLineage provider", namespace,
             tenant, database, name, named.namespace, named.name, len(columns))
