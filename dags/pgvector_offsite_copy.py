"""
### pgvector off-site copy

Every 5 minutes, the point-in-time recovery repository's new WAL files and verified base backups are copied to the
off-site repository `VECTOROPS_PITR_REMOTE`: an Airflow object storage URL (`s3://<conn_id>@bucket/path`,
`gs://...`, `abfs://...`, `file:///path`), its credentials in the named Airflow connection. Each file's size is
checked where it arrived; a base backup counts off-site once its record, copied last, is there. Then the off-site
chains beyond `VECTOROPS_BASE_KEEP_FULL` and the WAL no kept chain needs are expired there.

A failed copy fails the task and alerts `offsite_copy_failed`. Skipped without an off-site repository, with the WAL
archive off or with an external database. A disk lost with the server loses at most the WAL of the last few minutes
off-site: `vectorops restore --to-time ISO8601 --offsite` recovers from the off-site copy alone (docs/backups.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from vectorops.airflow.defaults import default_args


@dag(
    dag_id=Path(__file__).stem,
    schedule=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "backup", "pgvector"],
    default_args=default_args(execution_timeout=timedelta(hours=6)),
    max_active_runs=1,
)
def pgvector_offsite_copy() -> None:
    @task
    def copy_offsite() -> dict:
        """Copy the new WAL files and verified base backups off-site; expire there what no kept chain needs."""
        from vectorops.airflow.tasks.backup import copy_offsite

        return copy_offsite()

    copy_offsite()


pgvector_offsite_copy()
