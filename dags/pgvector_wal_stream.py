"""
### pgvector WAL stream

For an external database (`VECTOROPS_DSN`) whose role may replicate: its WAL streamed into the point-in-time
recovery repository by `pg_receivewal`, through a replication slot vectorops creates and records
(`vectorops_pitr_<hash>`), for just under 5 minutes per run, every 5 minutes. The slot keeps the WAL not received yet,
so nothing is lost between runs; each record is flushed as it arrives, so the RPO is seconds while a run streams.
With the daily base backups of `pgvector_backup`, `vectorops restore --to-time` recovers the external server to any
point since its first base backup.

Skipped with the embedded server (its `archive_command` archives), with the WAL archive off, or when the role may not
replicate (the skip says how to grant it). `vectorops backup --drop-wal-slot` drops the slot when you stop, so the
server no longer keeps WAL for it (docs/backups.md).
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
    default_args=default_args(execution_timeout=timedelta(minutes=10)),
    max_active_runs=1,
)
def pgvector_wal_stream() -> None:
    @task
    def stream_wal() -> dict:
        """Stream the external server's WAL into the repository for just under 5 minutes."""
        from vectorops.airflow.tasks.backup import stream_wal

        return stream_wal()

    stream_wal()


pgvector_wal_stream()
