"""The Assets the vectorops DAGs hand work on with, declared once so Airflow's Assets page shows the chain.

``chroma_to_pgvector`` (its ``summarize`` task) → :data:`MIGRATIONS` → ``pgvector_data_quality`` (its ``report``
task) → :data:`VALIDATIONS` → ``pgvector_maintenance``. One event per run carries every table in its ``extra``, so
a migration of many collections starts one data-quality run, and that one maintenance run. The per-table Assets
(:func:`table_asset`, :func:`validated_asset`), added through the aliases, keep each table's own lineage; no DAG
is scheduled on them.

DAG files import this module at parse time, so it imports only ``airflow.sdk``.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

MIGRATED_TABLES = AssetAlias("vectorops_migrated_tables")
VALIDATED_TABLES = AssetAlias("vectorops_validated_tables")
MIGRATIONS = Asset(name="vectorops.migrations", uri="pgvector://vectorops/migrations")
VALIDATIONS = Asset(name="vectorops.validations", uri="pgvector://vectorops/validations")


def table_asset(table: str) -> Asset:
    """The Asset of a live vector table (``schema.table``) a migration promoted.

    :param table: ``schema.table``.
    """
    return Asset(name=f"vectorops.{table}", uri=f"pgvector://vectorops/{table.replace('.', '/')}")


def validated_asset(table: str) -> Asset:
    """The Asset of a passing validation of a live table, apart from :func:`table_asset`.

    :param table: ``schema.table``.
    """
    return Asset(name=f"vectorops.validated.{table}", uri=f"pgvector://vectorops/{table.replace('.', '/')}/validated")
