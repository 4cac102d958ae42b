"""Airflow glue for ``pgvector_data_quality``: list the migrated tables, validate one, report the run in one event.

Live validations connect as ``vectorops_monitor`` (:mod:`vectorops.db.dsn`). Imported only inside task bodies, so
DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from vectorops.airflow.assets import validated_asset
from vectorops.airflow.no_retry import no_retry_for_deterministic_errors
from vectorops.airflow.scheduled_params import chosen_collections, named_collections
from vectorops.airflow.tasks.context import current_context
from vectorops.db.dsn import settings_as
from vectorops.db.roles import MONITOR
from vectorops.quality import gate

log = logging.getLogger(__name__)

NOTHING_YET = "nothing to do yet: no collection has been migrated (vectorops.collection_registry is empty)"


def fail_validation(report: gate.ValidationReport, event: str) -> None:
    """Alert with the failed expectations, then fail the task without retries (validation is deterministic).

    :param report: the failed validation.
    :param event: the alert's event name.
    """
    from vectorops.airflow.notifier import alerted_failure

    context = current_context()
    gate.alert_failure(report, event=event, dag_id=context["dag"].dag_id, run_id=str(context["run_id"]))
    raise alerted_failure(report.describe())


def list_migrated() -> list[str]:
    """The collections in the registry (those of them the ``collections`` Param names, when it names some).

    :raises AirflowSkipException: when there is none yet, so the run skips its tasks instead of validating nothing.
    :raises AirflowFailException: naming a named collection that was not migrated (no retry).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    log.info("listing the migrated collections to validate")
    params = current_context()["params"]
    with no_retry_for_deterministic_errors():
        named = named_collections(params)
        migrated = gate.migrated_collections(settings_as(MONITOR))
        if not migrated and not named:
            raise AirflowSkipException(NOTHING_YET)
        collections = chosen_collections(params, migrated)
    log.info("%s migrated collection(s) to validate: %s", len(collections), ", ".join(collections))
    return collections


def validate_table(collection: str, alias: Any) -> dict[str, Any]:
    """Re-validate one live table; emit a validated-table Asset event when it passes.

    :param collection: the collection's key.
    :param alias: the AssetAlias the table's event is added to.
    """
    context = current_context()
    context["collection"] = collection
    log.info("validating collection %r: Great Expectations suite and checksum against its promotion", collection)
    with no_retry_for_deterministic_errors():
        report = gate.validate_live(settings_as(MONITOR), collection, run_id=str(context["run_id"]))
    table = f"{report.schema}.{report.table}"
    if not report.success:
        log.error("collection %r (%s) failed validation: %s", collection, table, report.describe())
        fail_validation(report, "validation_failed")
    context["outlet_events"][alias].add(
        validated_asset(table), extra={"collection": collection, "validation_id": report.validation_id})
    log.info("collection %r (%s) passed: %s expectation(s) in %.2fs", collection, table, len(report.outcomes),
             report.seconds)
    return {"collection": collection, "table": table, "validation_id": report.validation_id,
            "expectations": len(report.outcomes), "seconds": round(report.seconds, 2)}


def report(results: list[dict[str, Any]], validations: Any) -> dict[str, Any]:
    """One line for the run, and one :data:`~vectorops.airflow.assets.VALIDATIONS` event naming every table that
    passed, so a run of many tables starts one maintenance run.

    :param results: ``validate_table``'s results (the DAG runs this task only when none failed).
    :param validations: the Asset this task's event goes to.
    """
    context = current_context()
    tables = sorted(r["table"] for r in results)
    context["outlet_events"][validations].extra = {"run_id": str(context["run_id"]), "tables": tables}
    log.info("%s table(s) passed validation: %s", len(tables), ", ".join(tables) or "none")
    return {"tables": tables}
