"""
### pgvector search monitor

Every 15 minutes, probes each live vector table with a fixed, seeded set of query vectors sampled from it
(kept in `vectorops.search_probes` until the table is migrated again) through its HNSW index at the
configured `hnsw.ef_search` (`VECTOROPS_HNSW_EF_SEARCH`, else the collection's own from its migration).

Measured per table: p50/p95/p99 latency; recall@10 against exact search; filtered recall with an iterative
scan for one metadata filter; table and index sizes and row count; and the smallest `ef_search` that reaches
the recall target. Rows go to `vectorops.search_metrics`, the advice to `vectorops.index_health`.

A p95 above `VECTOROPS_MONITOR_MAX_P95_MS` (50) or a recall@10 below `VECTOROPS_MONITOR_MIN_RECALL` (0.95)
fails the table's mapped task and alerts; a recall breach also flags the index for the next maintenance run.
With no live table yet, the run skips its tasks ("nothing to do yet").

A measurement taken while an index is being built on the server (`CREATE INDEX`, `REINDEX`, concurrently or not)
is recorded with `during_index_build` and what was building, and is not judged: its latencies are inflated by the
build, so it neither alerts nor fails nor flags the index.

**Params** (a scheduled run takes the defaults): **collections** to probe (empty: every live table);
**max_p95_ms**, **min_recall** and **ef_search**, defaulting to today's `VECTOROPS_MONITOR_MAX_P95_MS`,
`VECTOROPS_MONITOR_MIN_RECALL` and `VECTOROPS_HNSW_EF_SEARCH`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from vectorops.airflow.defaults import default_args
from vectorops.airflow.scheduled_params import MONITOR_THRESHOLDS, collections_param, threshold_params


@dag(
    dag_id=Path(__file__).stem,
    schedule=CronTriggerTimetable("*/15 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "monitoring", "pgvector"],
    default_args=default_args(retries=1, execution_timeout=timedelta(minutes=10)),
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=14),
    params={"collections": collections_param("probe", "monitor"), **threshold_params(MONITOR_THRESHOLDS)},
)
def pgvector_search_monitor() -> None:
    @task
    def list_live() -> list[str]:
        """The collections whose live table exists."""
        from vectorops.airflow.tasks.monitor import list_live

        return list_live()

    # one table at a time: parallel probes would inflate each other's latencies
    @task(map_index_template="{{ collection }}", max_active_tis_per_dag=1)
    def probe_table(collection: str) -> dict:
        """Probe one table's latency and recall; record, advise, alert."""
        from vectorops.airflow.tasks.monitor import probe_table

        return probe_table(collection)

    probe_table.expand(collection=list_live())


pgvector_search_monitor()
