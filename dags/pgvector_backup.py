"""
### pgvector backup

Daily at 02:00 UTC, a verified backup of the vector schemas (those in `vectorops.collection_registry`) and
the `vectorops` schema, into `VECTOROPS_BACKUP_DIR/<backup_id>/`:

1. **take_backup**: `pg_dump -Fc`, with counts, checksums and a fixed exact top-10 query per vector table taken
   in the same snapshot; a tar.gz of `CHROMA_DB_PATH` when set; a manifest with each file's sha256.
2. **verify_backup**: checks the files, restores on a scratch server of the worker, off the production server
   (started from the embedded binaries on a free 127.0.0.1 port, always removed), with
   `pg_restore -e --single-transaction` as `vectorops_restore`, and compares; a mismatch marks the backup failed
   and alerts.
3. **apply_retention**: keeps the newest `VECTOROPS_BACKUP_KEEP` verified backups within
   `VECTOROPS_BACKUP_RETENTION_DAYS`; unverified backups never count.
4. **check_backup_age** (beside retention, after the drill): runs whatever happened before; alerts when the newest
   verified backup is older than `VECTOROPS_BACKUP_MAX_AGE_HOURS` (default 26), and, with the WAL archive on, when
   the newest passed recovery drill is.

5. **take_base_backup** (beside the others): the day's physical base backup of the embedded server for
   point-in-time recovery, `pg_basebackup` checked by `pg_verifybackup`, incremental on the last one and full when
   the chain's full backup is older than `VECTOROPS_BASE_FULL_DAYS` (7); then the chains beyond
   `VECTOROPS_BASE_KEEP_FULL` (2) and the WAL no kept backup needs are expired. Skipped with the WAL archive off
   (`VECTOROPS_WAL_ARCHIVE=off`) or an external database (docs/backups.md).

6. **drill_recovery** (after both): the recovery drill, off the production server. The snapshot of the verified
   dump is recovered on a scratch server from the base backups and the WAL archive, to the WAL position the
   snapshot was taken at, and its counts, checksums and top-10 queries compared there with the dump's manifest;
   every comparison query runs on the scratch server's port. A difference fails the task and alerts; each drill is
   a row of `vectorops.recovery_drills`.

With nothing migrated yet, the run skips its tasks ("nothing to do yet") instead of backing up no table.

**Params** (a scheduled run takes the defaults): **keep**, **retention_days** and **max_age_hours**, defaulting to
today's `VECTOROPS_BACKUP_KEEP`, `VECTOROPS_BACKUP_RETENTION_DAYS` and `VECTOROPS_BACKUP_MAX_AGE_HOURS`. A backup
is always of every migrated schema, so there is no collections Param. The verify restore runs in the
`vectorops_heavy` pool, never beside an index build.

`vectorops backup --list` lists the backups; `vectorops restore --backup DIR --dsn DSN` restores one;
`vectorops restore --to-time ISO8601` starts a scratch server as the database was at that time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from vectorops.airflow.defaults import default_args
from vectorops.airflow.pools import HEAVY_POOL, HEAVY_QUEUE
from vectorops.airflow.scheduled_params import BACKUP_THRESHOLDS, threshold_params


@dag(
    dag_id=Path(__file__).stem,
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "backup", "pgvector"],
    default_args=default_args(execution_timeout=timedelta(hours=6)),
    max_active_runs=1,
    params=threshold_params(BACKUP_THRESHOLDS),
)
def pgvector_backup() -> None:
    @task
    def take_backup() -> dict:
        """Dump and check the vector schemas and `vectorops` in one snapshot; archive Chroma; write the manifest."""
        from vectorops.airflow.tasks.backup import take

        return take()

    @task(pool=HEAVY_POOL, queue=HEAVY_QUEUE)
    def verify_backup(backup: dict) -> dict:
        """Restore into a scratch database and compare with the manifest; a mismatch fails and alerts."""
        from vectorops.airflow.tasks.backup import verify

        return verify(backup)

    @task
    def apply_retention() -> dict:
        """Expire backups beyond the kept count or age."""
        from vectorops.airflow.tasks.backup import retain

        return retain()

    @task(trigger_rule="all_done")
    def check_backup_age() -> dict:
        """Alert when the newest verified backup is too old; runs even when the backup failed."""
        from vectorops.airflow.tasks.backup import check_age

        return check_age()

    @task
    def take_base_backup() -> dict:
        """The day's base backup (incremental; full weekly), verified; older chains and their WAL expired."""
        from vectorops.airflow.tasks.backup import take_base

        return take_base()

    @task(pool=HEAVY_POOL, queue=HEAVY_QUEUE)
    def drill_recovery() -> dict:
        """Recover the verified dump's snapshot on a scratch server and compare it with the manifest there."""
        from vectorops.airflow.tasks.backup import drill

        return drill()

    base = take_base_backup()
    verified = verify_backup(take_backup())
    drilled = drill_recovery()
    [base, verified] >> drilled
    # two leaves, so the run fails when verification does, though the age check after it succeeds
    verified >> apply_retention()
    [verified, drilled] >> check_backup_age()


pgvector_backup()
