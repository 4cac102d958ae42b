"""Airflow glue for ``chroma_sync``: list the collections a run syncs, sync (or cut over) one, alert on lag.

Syncs connect as ``vectorops_etl``, which owns the live tables and the registry. Imported only inside task
bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from vectorops.airflow.no_retry import no_retry_for_deterministic_errors
from vectorops.airflow.scheduled_params import SYNC_THRESHOLDS, apply_thresholds
from vectorops.airflow.tasks.context import current_context
from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.connect import connect
from vectorops.db.dsn import settings_as
from vectorops.db.roles import ETL
from vectorops.errors import CollectionBusy, IncompleteMigration
from vectorops.sync import scheduled
from vectorops.sync.report import cutover_line, outcome_line
from vectorops.sync.run import SyncFailure

log = logging.getLogger(__name__)


def _run_params(settings: Settings) -> scheduled.RunParams:
    """The source and collections Params (the thresholds are :func:`_settings`')."""
    params = {k: v for k, v in current_context()["params"].items() if k not in SYNC_THRESHOLDS}
    return scheduled.run_params(params, settings)


def _settings() -> Settings:
    """``vectorops_etl``'s settings with the run's ``max_lag_s``."""
    return apply_thresholds(settings_as(ETL), current_context()["params"], SYNC_THRESHOLDS)


def list_collections() -> list[dict[str, str]]:
    """The collections this run syncs (see :func:`vectorops.sync.scheduled.sync_jobs`).

    Bad Params, or collections not migrated from the named source, fail the task at once.

    :raises AirflowSkipException: when there is nothing to sync (yet): the run skips its tasks.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.db.bootstrap import bootstrap

    log.info("listing the collections this run syncs")
    with no_retry_for_deterministic_errors():
        settings = _settings()
        run = _run_params(settings)
        with connect(bootstrap(settings), autocommit=True) as conn:
            jobs = scheduled.sync_jobs(conn, run)
    action = "cut over" if run.cutover else "sync"
    if not jobs:
        raise AirflowSkipException(f"nothing to {action} yet: no collection in state `syncing` (a collection syncs on "
                                   "schedule after its first `vectorops sync`)" if not run.cutover else
                                   f"nothing to {action}")
    log.info("%s collection(s) to %s: %s", len(jobs), action, ", ".join(j.collection for j in jobs))
    return [{"collection": j.collection, "source_uri": j.source_uri} for j in jobs]


def sync_collection(job: dict[str, str]) -> dict[str, Any]:
    """Sync one collection (or cut it over, when the Params say so) and log the ``vectorops sync`` line.

    A deterministic refusal (a cut-over collection, a server source a scheduled run cannot reach, a re-created
    collection) fails the task without retries. A collection busy with another sync or a migration fails without
    retries and without an alert: the next run syncs it. A sync that leaves the table more than
    ``VECTOROPS_SYNC_MAX_LAG_S`` behind alerts and fails, as the search monitor's breaches do; one whose table is
    not in parity with its source afterwards fails (and is retried), as ``vectorops sync`` exits 1.

    :param job: ``{"collection": key, "source_uri": uri}`` from :func:`list_collections`.
    :return: the sync's (or cutover's) result.
    """
    context = current_context()
    key = job["collection"]
    context["collection"] = key
    log.info("syncing collection %r from %s", key, job["source_uri"])
    try:
        with no_retry_for_deterministic_errors():
            result = _sync(_settings(), scheduled.SyncJob(key, job["source_uri"]))
    except CollectionBusy as exc:
        from vectorops.airflow.notifier import alerted_failure

        log.warning(outcome_line(SyncFailure(key, f"{type(exc).__name__}: {exc}")))
        # marked as alerted so the failure callback stays quiet: busy is not a fault, the next run syncs it
        raise alerted_failure(str(exc)) from exc
    return result


def _sync(settings: Settings, job: scheduled.SyncJob) -> dict[str, Any]:
    from vectorops.sync.lag import lag_breach
    from vectorops.sync.run import sync_collection as sync_one
    from vectorops.sync.target import select_targets

    run = _run_params(settings)
    source = scheduled.job_source(job, run)
    with connect(runtime.start(settings), autocommit=True) as conn:
        target = select_targets(conn, source.uri, (job.collection,), None)[0]
        if run.cutover:
            from vectorops.sync.cutover import cutover

            done = cutover(conn, source, target, run.batch_size)
            log.info(cutover_line(done))
            return asdict(done)
        result = sync_one(conn, source, target, run.batch_size)
    log.info(outcome_line(result))
    breach = lag_breach(result, settings)
    if breach is not None:
        from vectorops.airflow.notifier import alerted_failure
        from vectorops.alerts.send import send_alert

        context = current_context()
        send_alert(breach.event(context["dag"].dag_id, str(context["run_id"])))
        raise alerted_failure(breach.describe())
    if not result.in_parity:  # as `vectorops sync` exits 1: retried, and alerted by the callback if it stays so
        raise IncompleteMigration(f"collection {job.collection!r}: after its sync to read point {result.read_point} "
                                  "the table's ids differ from the source's; see the sync's log line")
    return asdict(result)
