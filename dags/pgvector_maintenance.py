"""
### pgvector maintenance

Keeps the live vector tables fast, daily at 04:00 UTC and after each data-quality run in which every table passed
(migration → data quality → maintenance, one run each, through the `vectorops.migrations` and
`vectorops.validations` Assets). It plans first: with nothing to do (or nothing migrated yet) the run skips its
tasks. For each table it decides from PostgreSQL's statistics, and logs why:

- drops the invalid `_ccnew`/`_ccold` leftovers of an interrupted `REINDEX CONCURRENTLY` and an invalid duplicate
  of a valid index (a cancelled `CREATE INDEX CONCURRENTLY` of a second copy), and rebuilds any other invalid index;
- rebuilds the HNSW index with `REINDEX INDEX CONCURRENTLY` after a recall drop measured by the search monitor,
  heavy churn or growth since its build, or before a VACUUM (pgvector's advice), with `maintenance_work_mem`
  sized from the estimated graph;
- runs `VACUUM (ANALYZE)` when dead tuples pass `VECTOROPS_VACUUM_DEAD_RATIO`, or `ANALYZE` when statistics are
  stale. Never `VACUUM FULL`.

Every session has `lock_timeout` and `statement_timeout` set. Each action is recorded in
`vectorops.maintenance_log`; `vectorops maintain --dry-run` prints the same plan.

**Params** (a scheduled run takes the defaults): **dry_run** logs the plan and changes nothing; **collections**
limits the run to those named (empty: every live table); the thresholds default to today's `VECTOROPS_VACUUM_*`,
`VECTOROPS_ANALYZE_MAX_AGE_HOURS` and `VECTOROPS_REINDEX_*`. Each table's maintenance runs in the `vectorops_heavy`
pool, so no other index build or verify restore runs beside a rebuild.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from vectorops.airflow.assets import VALIDATIONS
from vectorops.airflow.defaults import default_args
from vectorops.airflow.pools import HEAVY_POOL, HEAVY_QUEUE
from vectorops.airflow.scheduled_params import (
    MAINTENANCE_THRESHOLDS,
    collections_param,
    dry_run_param,
    threshold_params,
)


@dag(
    dag_id=Path(__file__).stem,
    # one event per data-quality run in which every table passed: one run here
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"), assets=VALIDATIONS),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "maintenance", "pgvector"],
    default_args=default_args(),
    max_active_runs=1,
    params={
        "dry_run": dry_run_param("Log the plan of every table (what would be dropped, rebuilt, vacuumed or "
                                 "analysed, and why) and change nothing."),
        "collections": collections_param("maintain", "maintain"),
        **threshold_params(MAINTENANCE_THRESHOLDS),
    },
)
def pgvector_maintenance() -> None:
    @task
    def plan_maintenance() -> list[str]:
        """Log the plan of every live table and list the tables with work to do; skips the run when there is none."""
        from vectorops.airflow.tasks.maintenance import plan_maintenance

        return plan_maintenance()

    # one table at a time, and no other heavy work beside it: index rebuilds use every core the server has
    @task(map_index_template="{{ collection }}", max_active_tis_per_dag=1, pool=HEAVY_POOL,
          queue=HEAVY_QUEUE)
    def maintain_table(collection: str) -> dict:
        """Drop or rebuild invalid indexes, rebuild the HNSW index when due, then VACUUM or ANALYZE."""
        from vectorops.airflow.tasks.maintenance import maintain_table

        return maintain_table(collection)

    maintain_table.expand(collection=plan_maintenance())


pgvector_maintenance()
