"""Airflow glue for the migration and data-quality DAGs: read params and context, call the steps, emit Asset events.

Migration steps connect as ``vectorops_etl``, live validations as ``vectorops_monitor`` (:mod:`vectorops.db.dsn`).
Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from vectorops.airflow.no_retry import no_retry_for_deterministic_errors
from vectorops.airflow.tasks.context import current_context
from vectorops.chroma.preflight import CollectionRef
from vectorops.config import Settings
from vectorops.db.dsn import settings_as
from vectorops.db.roles import ETL, MONITOR
from vectorops.errors import ValidationFailed
from vectorops.migration import dry_run, steps
from vectorops.migration import request as migration_request
from vectorops.migration.plan import ChunkJob, CollectionPlan
from vectorops.migration.summary import format_table
from vectorops.quality import gate

log = logging.getLogger(__name__)


def _request(settings: Settings) -> migration_request.MigrationRequest:
    return migration_request.request_from_params(dict(current_context()["params"]), settings)


def _run_id() -> str:
    return str(current_context()["run_id"])


def plan_request() -> list[str]:
    """Validate the params before any work starts and list the collections (none on a dry run).

    A bad parameter or setting fails the task at once: retrying cannot fix it.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        settings = settings_as(ETL)
        request = _request(settings)
        collections = migration_request.select_collections(request)
        if not request.dry_run:  # a dry run lists a refusal among its plan's warnings
            steps.preflight(settings, request, collections)
        plans = [dry_run.dry_run_plan(settings, request, name) for name in collections] if request.dry_run else []
    except migration_request.REFUSALS as exc:
        from vectorops.airflow.run_note import set_run_note

        context = current_context()
        set_run_note(context["dag"].dag_id, str(context["run_id"]), f"**Rejected before any work**: {exc}")
        raise AirflowFailException(str(exc)) from exc
    if request.dry_run:
        for plan in plans:
            log.info("dry run plan: %s", json.dumps(plan, sort_keys=True))
        log.info("dry run: %s collection(s), %s rows; nothing was written", len(plans), sum(p["rows"] for p in plans))
        from vectorops.airflow.run_note import set_run_note

        context = current_context()
        set_run_note(context["dag"].dag_id, str(context["run_id"]),
                     dry_run.plan_note(plans, request.source.uri, request.target_schema))
        return []
    log.info("migrating %s collection(s) from %s into schema %s: %s", len(collections), request.source.uri,
             request.target_schema, ", ".join(collections))
    return collections


def prepare_collection(collection: str) -> dict[str, Any]:
    """Claim, stage and plan one collection.

    :param collection: the collection's label.
    :return: its :class:`~vectorops.migration.plan.CollectionPlan` as XCom.
    """
    current_context()["collection"] = collection
    settings = settings_as(ETL)
    with no_retry_for_deterministic_errors():
        return steps.prepare(settings, _request(settings), collection, _run_id()).to_xcom()


def list_chunks(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One :class:`~vectorops.migration.plan.ChunkJob` (as XCom) per chunk of every planned collection.

    :param plans: the XCom of the ``prepare_collection`` calls that succeeded.
    """
    return [job.to_xcom() for job in steps.chunk_tasks([CollectionPlan.from_xcom(plan) for plan in plans])]


def load_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """Load one chunk of one collection.

    :param chunk: a :class:`~vectorops.migration.plan.ChunkJob` as XCom.
    """
    job = ChunkJob.from_xcom(chunk)
    current_context()["chunk_label"] = job.label
    with no_retry_for_deterministic_errors():
        return steps.load(settings_as(ETL), job.plan, job.chunk_no)


def table_asset(table: str) -> Any:
    """The Asset a migration updates: a live vector table (``schema.table``)."""
    from airflow.sdk import Asset

    return Asset(name=f"vectorops.{table}", uri=f"pgvector://vectorops/{table.replace('.', '/')}")


def validated_asset(table: str) -> Any:
    """The Asset a passing validation updates, apart from :func:`table_asset`.

    A DAG scheduled on an AssetAlias is scheduled on the Assets it resolves to, so if validations emitted
    the table's own Asset, ``pgvector_data_quality`` would trigger itself after every run.
    """
    from airflow.sdk import Asset

    return Asset(name=f"vectorops.validated.{table}", uri=f"pgvector://vectorops/{table.replace('.', '/')}/validated")


def _fail_validation(report: gate.ValidationReport, event: str) -> None:
    """Alert with the failed expectations, then fail the task without retries (validation is deterministic)."""
    from vectorops.airflow.notifier import alerted_failure

    context = current_context()
    gate.alert_failure(report, event=event, dag_id=context["dag"].dag_id, run_id=str(context["run_id"]))
    raise alerted_failure(report.describe())


def finalize_collection(xcom: dict[str, Any], alias: Any) -> dict[str, Any]:
    """Validate and promote one collection and emit an Asset event for its table.

    :param xcom: the collection's :class:`~vectorops.migration.plan.CollectionPlan` as XCom.
    :param alias: the AssetAlias the table's Asset event is added to.
    """
    plan = CollectionPlan.from_xcom(xcom)
    context = current_context()
    context["collection"] = plan.collection
    try:
        with no_retry_for_deterministic_errors():
            summary = steps.finalize(settings_as(ETL), plan)
    except ValidationFailed as exc:
        assert isinstance(exc.report, gate.ValidationReport)  # the gate raises it with its own report
        _fail_validation(exc.report, "migration_gate_failed")
        raise
    context["outlet_events"][alias].add(
        table_asset(summary["table"]),
        extra={"collection": plan.collection, "rows": summary["loaded"], "quarantined": summary["quarantined"],
               "run_id": plan.run_id})
    return summary


def validate_table(collection: str, alias: Any) -> dict[str, Any]:
    """Re-validate one live table; emit a validated-table Asset event when it passes."""
    context = current_context()
    context["collection"] = collection
    with no_retry_for_deterministic_errors():
        report = gate.validate_live(settings_as(MONITOR), collection, run_id=_run_id())
    table = f"{report.schema}.{report.table}"
    if not report.success:
        _fail_validation(report, "validation_failed")
    context["outlet_events"][alias].add(
        validated_asset(table), extra={"collection": collection, "validation_id": report.validation_id})
    return {"collection": collection, "table": table, "validation_id": report.validation_id,
            "expectations": len(report.outcomes), "seconds": round(report.seconds, 2)}


def list_migrated() -> list[str]:
    """The collections in the registry."""
    with no_retry_for_deterministic_errors():
        collections = gate.migrated_collections(settings_as(MONITOR))
    log.info("%s migrated collection(s) to validate: %s", len(collections), ", ".join(collections) or "none")
    return collections


def summarize(collections: list[str] | None, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log one line per collection; raise if any collection was not promoted.

    :param collections: what ``plan_request`` planned; ``None`` when it refused the request.
    """
    if collections is None:
        raise RuntimeError("the request was refused before any work: see plan_request's log (and the run note)")
    for line in format_table([{**s, "status": "promoted"} for s in summaries]):
        log.info(line)
    done = {CollectionRef.parse(s["collection"]).label for s in summaries}  # a key may carry its store's suffix
    failed = [c for c in collections if c not in done]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(collections)} collection(s) failed: {', '.join(map(repr, failed))}; "
                           "see the failed task logs; a rerun resumes from the chunks that committed")
    return summaries
