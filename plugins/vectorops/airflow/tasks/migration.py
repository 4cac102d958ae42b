"""Airflow glue for the migration's task group: read the request (explicit, or the run's Params) and the context,
call the steps, emit Asset events and lineage, note the result.

Migration steps connect as ``vectorops_etl`` (:mod:`vectorops.db.dsn`).
Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from vectorops.airflow import lineage
from vectorops.airflow.assets import source_asset
from vectorops.airflow.no_retry import no_retry_for_deterministic_errors
from vectorops.airflow.tasks.context import current_context
from vectorops.airflow.tasks.quality import fail_validation
from vectorops.chroma.preflight import CollectionRef
from vectorops.config import Settings
from vectorops.db.dsn import settings_as
from vectorops.db.roles import ETL
from vectorops.errors import SettingError, ValidationFailed
from vectorops.migration import dry_run, steps
from vectorops.migration import request as migration_request
from vectorops.migration.plan import ChunkJob, CollectionPlan
from vectorops.migration.summary import format_plan_table, format_table, summary_note
from vectorops.quality import gate

log = logging.getLogger(__name__)


def _request_args(request: dict[str, Any] | None) -> dict[str, Any]:
    """The group's explicit request, or the run's Params when it was built with ``request_from_params``.

    :raises SettingError: when an explicit argument is empty (a template that rendered to nothing, ``[]``): for the
        Params form empty means "the workers' store" or "every collection", but an argument given is meant.
    """
    if request is None:
        return dict(current_context()["params"])
    empty = [name for name in ("chroma_path", "chroma_host", "chroma_conn", "collections")
             if request.get(name) is not None and not (request[name].strip() if isinstance(request[name], str)
                                                       else request[name])]
    if empty:
        raise SettingError(f"chroma_to_pgvector_group: {', '.join(empty)} given but empty (a template that rendered "
                           "to nothing?); leave an argument out for its default (every collection, the workers' "
                           "CHROMA_DB_PATH)")
    return dict(request)


def _request(settings: Settings, request: dict[str, Any] | None) -> migration_request.MigrationRequest:
    return migration_request.request_from_params(_request_args(request), settings)


def _run_id() -> str:
    return str(current_context()["run_id"])


def plan_request(request_args: dict[str, Any] | None) -> list[str]:
    """Validate the request before any work starts and list the collections (none on a dry run).

    A bad parameter or setting fails the task at once (no retry: retrying cannot fix it), with the reason as the
    run note; the tasks after it do not run (``upstream_failed``), so this task's alert is the only one.

    :param request_args: the request's values; ``None``: the run's Params.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from vectorops.airflow.run_note import set_run_note

    context = current_context()
    dag_id, run_id = context["dag"].dag_id, str(context["run_id"])
    raw = dict(context["params"]) if request_args is None else dict(request_args)
    log.info("checking the request: %s", _params_line(raw))
    with no_retry_for_deterministic_errors():  # a refused login, too, stays refused on retry
        try:
            settings = settings_as(ETL)
            request = _request(settings, request_args)
            collections = migration_request.select_collections(request)
            if not request.dry_run:  # a dry run lists a refusal among its plan's warnings
                steps.preflight(settings, request, collections)
            plans = [dry_run.dry_run_plan(settings, request, name) for name in collections] if request.dry_run else []
        except migration_request.REFUSALS as exc:
            log.error("request rejected before any work: %s", exc)
            set_run_note(dag_id, run_id, f"**Rejected before any work**: {exc}")
            raise AirflowFailException(str(exc)) from exc
    if request.dry_run:
        log.info("dry run of %s collection(s) from %s into schema %s:", len(plans), request.source.uri,
                 request.target_schema)
        for line in format_plan_table(plans):
            log.info(line)
        set_run_note(dag_id, run_id, dry_run.plan_note(plans, request.source.uri, request.target_schema))
        log.info("dry run: %s collection(s), %s rows; nothing was written", len(plans), sum(p["rows"] for p in plans))
        return []
    if not collections:  # an empty store: nothing to do, which is not a failure
        log.warning("nothing to migrate: %s holds no collection", request.source.uri)
        set_run_note(dag_id, run_id, f"**Nothing to migrate**: {request.source.uri} holds no collection.")
        return []
    log.info("request accepted: migrating %s collection(s) from %s into schema %s: %s", len(collections),
             request.source.uri, request.target_schema, ", ".join(collections))
    return collections


def _params_line(params: dict[str, Any]) -> str:
    """The request's values that are set, for the task's first log line (a connection is named, never opened)."""
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()) if v not in (None, "", [])) or "defaults"


def prepare_collection(collection: str, request_args: dict[str, Any] | None) -> dict[str, Any]:
    """Claim, stage and plan one collection.

    :param collection: the collection's label.
    :param request_args: the request's values; ``None``: the run's Params.
    :return: its :class:`~vectorops.migration.plan.CollectionPlan` as XCom.
    """
    current_context()["collection"] = collection
    log.info("preparing collection %r: claim it, stage its ids, plan its chunks", collection)
    settings = settings_as(ETL)
    with no_retry_for_deterministic_errors():
        plan = steps.prepare(settings, _request(settings, request_args), collection, _run_id())
    log.info("collection %r prepared: %s chunk(s) into %s.%s (shadow %s)", collection, len(plan.chunks), plan.schema,
             plan.table, plan.shadow)
    return plan.to_xcom()


def list_chunks(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One :class:`~vectorops.migration.plan.ChunkJob` (as XCom) per chunk of every planned collection.

    :param plans: the XCom of the ``prepare_collection`` calls that succeeded.
    """
    ready = [CollectionPlan.from_xcom(plan) for plan in plans]
    log.info("listing the chunks of %s prepared collection(s)", len(ready))
    jobs = [job.to_xcom() for job in steps.chunk_tasks(ready)]
    log.info("%s chunk(s) to load", len(jobs))
    return jobs


def load_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """Load one chunk of one collection.

    :param chunk: a :class:`~vectorops.migration.plan.ChunkJob` as XCom.
    """
    job = ChunkJob.from_xcom(chunk)
    current_context()["chunk_label"] = job.label
    log.info("loading chunk %s of %r into %s.%s", job.chunk_no, job.plan.collection, job.plan.schema,
             job.plan.shadow)
    with no_retry_for_deterministic_errors():
        result = steps.load(settings_as(ETL), job.plan, job.chunk_no)
    if result["skipped"]:
        log.info("chunk %s of %r was already loaded by an earlier attempt: skipped", job.chunk_no, job.plan.collection)
    else:
        log.info("chunk %s of %r: read %s, loaded %s, quarantined %s in %.2fs", job.chunk_no, job.plan.collection,
                 result["read"], result["loaded"], result["quarantined"], result["seconds"])
    return result


def finalize_collection(xcom: dict[str, Any], alias: Any) -> dict[str, Any]:
    """Validate and promote one collection, emit an Asset event for its table and, when OpenLineage is on, its
    Chroma → PostgreSQL lineage with the table's columns.

    :param xcom: the collection's :class:`~vectorops.migration.plan.CollectionPlan` as XCom.
    :param alias: the AssetAlias the table's Asset event is added to.
    """
    plan = CollectionPlan.from_xcom(xcom)
    context = current_context()
    context["collection"] = plan.collection
    log.info("finalizing collection %r: verify counts, validate, index and promote %s.%s into %s.%s",
             plan.collection, plan.schema, plan.shadow, plan.schema, plan.table)
    settings = settings_as(ETL)
    try:
        with no_retry_for_deterministic_errors():
            summary = steps.finalize(settings, plan)
    except ValidationFailed as exc:
        assert isinstance(exc.report, gate.ValidationReport)  # the gate raises it with its own report
        fail_validation(exc.report, "migration_gate_failed")
        raise
    source = source_asset(plan.source.uri, CollectionRef.parse(plan.collection).path)
    target = lineage.target_of(settings)
    context["outlet_events"][alias].add(
        target.table_asset(summary["table"]),
        extra={"collection": plan.collection, "rows": summary["loaded"], "quarantined": summary["quarantined"],
               "run_id": plan.run_id, "source": source.uri})
    lineage.emit_migration_lineage(settings, target, source, summary["table"], summary["loaded"])
    log.info("collection %r %s as %s: %s loaded, %s quarantined", plan.collection, summary["status"],
             summary["table"], summary["loaded"], summary["quarantined"])
    return summary


def summarize(collections: list[str] | None, summaries: list[dict[str, Any]], migrations: Any) -> list[dict[str, Any]]:
    """Log the summary table, write it as the run note and emit one :data:`~vectorops.airflow.assets.MIGRATIONS`
    event naming every promoted table; fail, without a second alert, when a collection was not promoted.

    The DAG runs this task only when nothing upstream failed (trigger rule ``none_failed``), or when every collection
    failed before its finalize (which then has nothing to finalize and is skipped).

    :param collections: what ``plan_request`` planned (empty on a dry run or for a source without collections).
    :param summaries: ``finalize_collection``'s results.
    :param migrations: the Asset this task's event goes to.
    :raises AirflowSkipException: when nothing was planned: nothing was migrated.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.airflow.notifier import alerted_failure
    from vectorops.airflow.run_note import set_run_note

    if not collections:
        raise AirflowSkipException("nothing was migrated: plan_request listed no collection (a dry run, whose plan is "
                                   "in its log and the run note, or a source without collections)")
    log.info("summarizing the migration of %s collection(s)", len(collections))
    for line in format_table([{"status": "promoted", **s} for s in summaries]):
        log.info(line)
    done = {CollectionRef.parse(s["collection"]).label for s in summaries}  # a key may carry its store's suffix
    failed = [c for c in collections if c not in done]
    if failed:
        # each collection's own failed task has alerted: this failure restates it and sends nothing
        raise alerted_failure(f"{len(failed)} of {len(collections)} collection(s) not promoted: "
                              f"{', '.join(map(repr, failed))}; see their failed tasks; a rerun resumes from the "
                              "chunks that committed")
    context = current_context()
    set_run_note(context["dag"].dag_id, str(context["run_id"]), summary_note(summaries))
    context["outlet_events"][migrations].extra = {
        "run_id": str(context["run_id"]), "tables": sorted(s["table"] for s in summaries),
        "collections": sorted(s["collection"] for s in summaries)}
    log.info("migrated %s collection(s): %s rows loaded, %s quarantined", len(summaries),
             sum(s["loaded"] for s in summaries), sum(s["quarantined"] for s in summaries))
    return summaries
