"""Airflow glue for ``pgvector_search_monitor``: list the live tables, probe one, alert and fail on a breach.

Every probe connects as ``vectorops_monitor``: reads, plus the rows the monitor records.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from vectorops import monitor
from vectorops.airflow.no_retry import no_retry
from vectorops.airflow.tasks.context import current_context
from vectorops.db.dsn import settings_as
from vectorops.db.roles import MONITOR
from vectorops.errors import RequestError

log = logging.getLogger(__name__)


@no_retry
def list_live() -> list[str]:
    """The collections whose live table exists.

    :raises AirflowSkipException: when there is none yet: the run skips instead of probing nothing.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    log.info("listing the live vector tables to probe")
    collections = monitor.live_collections(settings_as(MONITOR))
    if not collections:
        raise AirflowSkipException("nothing to do yet: no live vector table (nothing migrated, or every table gone)")
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
    log.info("probing collection %r: latency and recall through its HNSW index", collection)
    try:
        measurement = monitor.monitor_table(settings_as(MONITOR), collection, run_id)
    except RequestError as exc:  # a bad setting, or the table went away since list_live: retrying cannot help
        raise AirflowFailException(str(exc)) from exc
    for line in monitor.format_measurements([measurement]):
        log.info(line)
    if measurement.breaches:
        monitor.alert_breaches(measurement, dag_id=dag_id, run_id=run_id)
        from vectorops.airflow.notifier import alerted_failure

        raise alerted_failure(measurement.describe())
    if measurement.empty:
        log.info(measurement.describe())
    else:
        log.info("collection %r (%s): p95 %s ms, recall@10 %s: within limits", collection, measurement.table,
                 measurement.p95_ms, measurement.recall_at_10)
    return {"collection": collection, "table": measurement.table, "metric_id": measurement.metric_id,
            "ef_search": measurement.ef_search, "p95_ms": measurement.p95_ms,
            "recall_at_10": measurement.recall_at_10, "advised_ef_search": measurement.advised_ef_search}
