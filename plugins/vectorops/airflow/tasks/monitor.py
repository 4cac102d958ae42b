"""Airflow glue for ``pgvector_search_monitor``: list the live tables, probe one, alert and fail on a breach.

Every probe connects as ``vectorops_monitor``: reads, plus the rows the monitor records. The run's Params choose the
collections and put their thresholds over the settings.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from vectorops import monitor
from vectorops.airflow.no_retry import no_retry
from vectorops.airflow.scheduled_params import (
    MONITOR_THRESHOLDS,
    apply_thresholds,
    chosen_collections,
    named_collections,
)
from vectorops.airflow.tasks.context import current_context
from vectorops.db.dsn import settings_as
from vectorops.db.roles import MONITOR
from vectorops.errors import RequestError

log = logging.getLogger(__name__)


@no_retry
def list_live() -> list[str]:
    """The collections whose live table exists (those of them the Params name, when they name some).

    :raises AirflowSkipException: when there is none yet: the run skips instead of probing nothing.
    :raises RequestError: naming a named collection without a live table (the task fails at once).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    log.info("listing the live vector tables to probe")
    params = current_context()["params"]
    # a bad threshold fails here, before any probe
    settings = apply_thresholds(settings_as(MONITOR), params, MONITOR_THRESHOLDS)
    live = monitor.live_collections(settings)
    if not live and not named_collections(params):
        raise AirflowSkipException("nothing to do yet: no live vector table (nothing migrated, or every table gone)")
    collections = chosen_collections(params, live)
    log.info("%s live table(s) to probe: %s", len(collections), ", ".join(collections))
    return collections


@no_retry
def probe_table(collection: str) -> dict[str, Any]:
    """Measure one table and record it; on a breach, alert and fail the task without retries.

    The metrics row is written before the task fails, and the exception carries ``vectorops_alerted`` so the
    failure callback does not alert a second time.
    """
    from airflow.sdk.exceptions import AirflowFailException

    context = current_context()
    context["collection"] = collection
    run_id, dag_id = str(context["run_id"]), context["dag"].dag_id
    log.info("probing collection %r: latency and recall through its vector index", collection)
    try:
        settings = apply_thresholds(settings_as(MONITOR), context["params"], MONITOR_THRESHOLDS)
        measurement = monitor.monitor_table(settings, collection, run_id)
    except RequestError as exc:  # a bad setting, or the table went away since list_live: retrying cannot help
        raise AirflowFailException(str(exc)) from exc
    for line in monitor.format_measurements([measurement]):
        log.info(line)
    if measurement.breaches:
        monitor.alert_breaches(measurement, dag_id=dag_id, run_id=run_id)
        from vectorops.airflow.notifier import alerted_failure

        raise alerted_failure(measurement.describe())
    if measurement.empty or measurement.during_index_build:
        (log.warning if measurement.during_index_build else log.info)(measurement.describe())
    else:
        log.info("collection %r (%s): p95 %s ms, recall@10 %s at %s %s: within limits", collection,
                 measurement.table, measurement.p95_ms, measurement.recall_at_10, measurement.search_knob or "no index",
                 measurement.ef_search if measurement.ef_search is not None else "(exact search)")
    return {"collection": collection, "table": measurement.table, "metric_id": measurement.metric_id,
            "search_knob": measurement.search_knob, "ef_search": measurement.ef_search, "p95_ms": measurement.p95_ms,
            "recall_at_10": measurement.recall_at_10, "advised_ef_search": measurement.advised_ef_search,
            "during_index_build": measurement.during_index_build}
