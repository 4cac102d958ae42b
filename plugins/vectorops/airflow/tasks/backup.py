"""Airflow glue for the ``pgvector_backup`` DAG: context in, backup steps called, alerted failures out.

Every step connects as ``vectorops_maint``: it reads everything and writes ``vectorops.backups``; a backup is
verified on a scratch server of the worker, never on the production server. The run's Params (kept count,
retention days, maximum age) are put over the settings.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from vectorops.airflow.no_retry import no_retry
from vectorops.airflow.scheduled_params import BACKUP_THRESHOLDS, apply_thresholds
from vectorops.airflow.tasks.context import current_context
from vectorops.backup import jobs
from vectorops.backup.retention import apply_retention
from vectorops.backup.take import take_backup
from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.dsn import settings_as
from vectorops.db.roles import MAINT

log = logging.getLogger(__name__)


class _Where(TypedDict):
    dag_id: str | None
    run_id: str | None
    task_id: str | None


def _where() -> _Where:
    context = current_context()
    ti = context.get("ti")
    return {"dag_id": context["dag"].dag_id, "run_id": str(context["run_id"]),
            "task_id": getattr(ti, "task_id", None)}


def _as_maint() -> tuple[Settings, str]:
    """The settings of ``vectorops_maint`` with the run's retention and age Params, and its DSN."""
    settings = apply_thresholds(settings_as(MAINT), current_context()["params"], BACKUP_THRESHOLDS)
    return settings, runtime.dsn(settings)


def _skip_when_nothing_migrated(settings: Settings) -> None:
    """Skip the task (and the run's tasks after it) while the registry is empty: a backup of no table verifies
    nothing, and the age of a backup never needed is no alert."""
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.quality.gate import migrated_collections

    if not migrated_collections(settings):
        raise AirflowSkipException("nothing to do yet: no collection has been migrated "
                                   "(vectorops.collection_registry is empty)")


def _fail_alerted(message: str, failed: list[dict[str, Any]]) -> None:
    """Fail the task without retries; the alert was sent, so the failure callback sends none."""
    from vectorops.airflow.notifier import alerted_failure

    raise alerted_failure(message, failed)


@no_retry
def take() -> dict[str, Any]:
    """Take a backup of the registry schemas and ``vectorops`` (and Chroma, when configured)."""
    settings, dsn = _as_maint()
    _skip_when_nothing_migrated(settings)
    log.info("taking a backup of the registry's schemas and vectorops into %s", settings.backup.directory)
    taken = take_backup(settings, dsn, run_id=_where()["run_id"])
    log.info("backup %s taken: %s table(s), %s rows, in %s", taken.backup_id, len(taken.manifest.vector_tables),
             taken.manifest.total_rows, taken.directory)
    return {"backup_id": taken.backup_id, "path": str(taken.directory), "tables": len(taken.manifest.vector_tables),
            "rows": taken.manifest.total_rows, "files": {e.name: e.bytes for e in taken.manifest.files.values()}}


@no_retry
def verify(backup: dict[str, Any]) -> dict[str, Any]:
    """Verify the backup by restoring it on a scratch server; a mismatch is recorded, alerted and fails."""
    log.info("verifying backup %s: restore on a scratch server, off the production server, and compare with its "
             "manifest", backup["backup_id"])
    report = jobs.verify_and_record(_as_maint()[1], backup["backup_id"], **_where())
    if not report.ok:
        _fail_alerted(report.describe(), report.failures)
    log.info("backup %s verified: %s table(s), %s rows in %.1fs", report.backup_id, report.tables, report.rows,
             report.seconds)
    return {"backup_id": report.backup_id, "tables": report.tables, "rows": report.rows,
            "seconds": round(report.seconds, 2)}


@no_retry
def retain() -> dict[str, Any]:
    """Expire verified backups beyond the newest N or the age limit, and old unverified ones."""
    settings, dsn = _as_maint()
    log.info("applying retention to the backups in %s", settings.backup.directory)
    result = apply_retention(dsn, settings.backup)
    for backup_id, reason in result.expired:
        log.info("expired backup %s: %s", backup_id, reason)
    log.info("retention: %s backup(s) kept, %s expired", len(result.kept), len(result.expired))
    return {"kept": result.kept, "expired": [backup_id for backup_id, _ in result.expired]}


def _stale_drills(settings: Settings, dsn: str) -> str | None:
    """Alert and say why when the recovery drills are stale (only while the WAL archive is on)."""
    from vectorops.backup.pitr.base_backup import not_archiving
    from vectorops.backup.pitr.drill import DRILL_STALE, stale_drill
    from vectorops.config import load_settings

    if not_archiving(load_settings()) is not None:
        return None
    stale = stale_drill(dsn, settings.backup.max_age_h)
    if stale is not None:
        jobs.alert(DRILL_STALE, stale, [{"expectation": "recovery_drill_fresh", "observed": stale}], **_where())
    return stale


@no_retry
def check_age() -> dict[str, Any]:
    """Fail, alerted, when the newest verified backup is older than ``VECTOROPS_BACKUP_MAX_AGE_HOURS``."""
    settings, dsn = _as_maint()
    _skip_when_nothing_migrated(settings)
    freshness = jobs.check_and_alert_freshness(settings, dsn, **_where())
    if freshness.stale:
        _fail_alerted(freshness.describe(), freshness.failed_expectations())
    drills = _stale_drills(settings, dsn)
    if drills is not None:
        _fail_alerted(drills, [{"expectation": "recovery_drill_fresh", "observed": drills}])
    return {"backup_id": freshness.backup_id, "age_hours": round(freshness.age_h or 0.0, 2),
            "max_age_hours": freshness.max_age_h}


@no_retry
def take_base() -> dict[str, Any]:
    """Take the day's base backup of the embedded server (incremental on the last one; full when the chain's full one
    is older than ``VECTOROPS_BASE_FULL_DAYS``), then expire the chains beyond ``VECTOROPS_BASE_KEEP_FULL``.

    :raises AirflowSkipException: with an external database (it has its own backups) or the WAL archive off (a
        throwaway server, nothing to recover to a point in time).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.backup.pitr.base_backup import not_archiving, take_base_backup
    from vectorops.backup.pitr.retention import apply_retention as expire_chains
    from vectorops.config import load_settings

    settings = load_settings()  # the server's own superuser: a base backup needs the replication privilege
    reason = not_archiving(settings)
    if reason is not None:
        raise AirflowSkipException(f"no base backup: {reason}")
    backup = take_base_backup(settings)
    kept = expire_chains(settings, settings.pitr.keep_full)
    log.info("base backup %s (%s) verified, %.1f MB; %s base backup(s) kept, %s expired, WAL kept from %s",
             backup.label, backup.kind, backup.size_bytes / 1e6, len(kept.kept), len(kept.expired), kept.wal_from)
    return {"label": backup.label, "kind": backup.kind, "parent": backup.parent, "bytes": backup.size_bytes,
            "kept": list(kept.kept), "expired": list(kept.expired)}


@no_retry
def drill() -> dict[str, Any]:
    """The recovery drill (:mod:`vectorops.backup.pitr.drill`): the newest verified backup's snapshot recovered on a
    scratch server from the base backups and the WAL archive, compared with its manifest there; a failure alerts
    and fails the task.

    :raises AirflowSkipException: as :func:`take_base` skips, or while nothing was migrated.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.backup.pitr.base_backup import not_archiving
    from vectorops.backup.pitr.drill import DRILL_FAILED, run_drill
    from vectorops.config import load_settings

    settings = load_settings()
    reason = not_archiving(settings)
    if reason is not None:
        raise AirflowSkipException(f"no recovery drill: {reason}")
    maint, dsn = _as_maint()
    _skip_when_nothing_migrated(maint)
    report = run_drill(settings, dsn)
    if report.status == "failed":
        jobs.alert(DRILL_FAILED, report.describe(), report.failures, **_where())
        _fail_alerted(report.describe(), report.failures)
    log.info("%s", report.describe())
    return {"drill_id": report.drill_id, "status": report.status, "backup_id": report.backup_id,
            "recovery_seconds": report.recovery_seconds, "scratch_port": report.scratch_port}


@no_retry
def copy_offsite() -> dict[str, Any]:
    """Copy the WAL archive and the verified base backups to the off-site repository (``VECTOROPS_PITR_REMOTE``);
    a failed copy alerts (``offsite_copy_failed``) and fails the task.

    :raises AirflowSkipException: with no off-site repository, or as :func:`take_base` skips.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.base_backup import not_archiving
    from vectorops.backup.pitr.offsite import OFFSITE_FAILED
    from vectorops.backup.pitr.offsite import copy_offsite as copy
    from vectorops.config import load_settings

    settings = load_settings()
    reason = not_archiving(settings) or (None if settings.pitr.remote else
                                         "no off-site repository (VECTOROPS_PITR_REMOTE is not set)")
    if reason is not None:
        raise AirflowSkipException(f"no off-site copy: {reason}")
    try:
        copied = copy(settings)
    except BackupError as exc:
        failed = [{"expectation": "offsite_copy_succeeded", "observed": str(exc)}]
        jobs.alert(OFFSITE_FAILED, str(exc), failed, **_where())
        _fail_alerted(str(exc), failed)
    return {"remote": copied.remote, "wal_copied": copied.wal_copied, "base_copied": list(copied.base_copied),
            "bytes": copied.bytes_copied, "newest_wal": copied.newest_wal, "expired": list(copied.expired)}


#: how long one run of ``pgvector_wal_stream`` streams: just under its 5-minute schedule
STREAM_SECONDS = 285.0


@no_retry
def stream_wal() -> dict[str, Any]:
    """Stream an external server's WAL into the PITR repository (``pg_receivewal`` through vectorops' replication
    slot) for just under the DAG's interval; the slot keeps what arrives between runs.

    :raises AirflowSkipException: with the embedded server (its ``archive_command`` archives), or as
        :func:`take_base` skips (naming why: the WAL archive off, a role that may not replicate).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vectorops.backup.pitr.base_backup import not_archiving
    from vectorops.backup.pitr.wal_receiver import receive_wal
    from vectorops.config import load_settings

    settings = load_settings()
    if not settings.external_dsn:
        raise AirflowSkipException("no WAL to stream: the embedded server archives its own (archive_command)")
    reason = not_archiving(settings)
    if reason is not None:
        raise AirflowSkipException(f"no WAL streaming: {reason}")
    received = receive_wal(settings, STREAM_SECONDS)
    return {"slot": received.slot, "seconds": round(received.seconds, 1), "segments": received.segments,
            "newest": received.newest}
