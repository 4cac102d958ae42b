"""The backup jobs as the CLI and the DAG run them: take, verify and record, expire, check freshness; alert."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vectorops.alerts import send
from vectorops.backup import ledger
from vectorops.backup.freshness import Freshness, check_freshness
from vectorops.backup.manifest import MANIFEST
from vectorops.backup.retention import RetentionResult, apply_retention
from vectorops.backup.take import BackupError, TakenBackup, take_backup
from vectorops.backup.verify import VerificationReport, verify_backup
from vectorops.config import Settings

log = logging.getLogger(__name__)

VERIFICATION_FAILED = "backup_verification_failed"
BACKUP_FAILED = "backup_failed"
BACKUP_STALE = "backup_stale"


@dataclass(frozen=True)
class BackupOutcome:
    """One run of :func:`run_backup`.

    :param taken: the backup taken.
    :param report: its verification.
    :param retention: what retention did (``None`` when it did not run).
    """

    taken: TakenBackup
    report: VerificationReport
    retention: RetentionResult | None


def alert(event: str, message: str, failed: list[dict[str, Any]], *, dag_id: str | None, run_id: str | None,
          task_id: str | None = None) -> None:
    """Send a backup alert to the configured channels (never raises).

    :param event: ``backup_verification_failed`` | ``backup_failed`` | ``backup_stale``.
    :param message: what happened, naming the backup.
    :param failed: the failed expectations.
    :param dag_id: the DAG, when run by Airflow.
    :param run_id: the run.
    :param task_id: the task.
    """
    send.send_alert(send.AlertEvent(event=event, dag_id=dag_id, run_id=run_id, collection=None, table=None,
                                        failed_expectations=failed, run_url=send.run_url(dag_id, run_id),
                                        message=message, task_id=task_id))


def verify_and_record(dsn: str, backup_id: str, *, dag_id: str | None = None, run_id: str | None = None,
                      task_id: str | None = None, settings: Settings | None = None) -> VerificationReport:
    """Verify a recorded backup, mark it ``verified`` or ``failed``, and alert when it fails.

    :param dsn: the vectors database, whose ledger records the outcome (the backup is restored on a scratch
        server, not there).
    :param backup_id: a backup in ``vectorops.backups``.
    :param dag_id: the DAG, for the alert.
    :param run_id: the run, for the alert.
    :param task_id: the task, for the alert.
    :param settings: ``VECTOROPS_HOME`` (signing key, the restore role's password); default from the environment.
    :return: the report; check ``report.ok``.
    :raises ValueError: when the backup is not recorded.
    """
    row = ledger.get(dsn, backup_id)
    with ledger.owned(dsn, backup_id):  # a verification killed half-way is closed as failed by the next backup
        ledger.set_status(dsn, backup_id, "verifying",
                          details={"verification_started_at": datetime.now(UTC).isoformat()})
        try:
            report = verify_backup(dsn, Path(row.path) / MANIFEST, expected_manifest_sha256=row.manifest_sha256,
                                   backup_id=backup_id, settings=settings)
        except Exception as exc:  # the server, not the backup: recorded, and raised so that a retry can verify again
            ledger.set_status(dsn, backup_id, "failed", error=f"verification of backup {backup_id} ({row.path}) "
                                                              f"could not run: {exc}")
            raise
        details = {"verification": {"failures": report.failures, "tables": report.tables, "rows": report.rows,
                                    "scratch_port": report.port}}
        if report.ok:
            ledger.set_status(dsn, backup_id, "verified", details=details, verify_seconds=report.seconds)
            log.info("%s", report.describe())
        else:
            ledger.set_status(dsn, backup_id, "failed", error=report.describe(), details=details,
                              verify_seconds=report.seconds)
            log.error("%s", report.describe())
    if not report.ok:
        alert(VERIFICATION_FAILED, report.describe(), report.failures, dag_id=dag_id, run_id=run_id, task_id=task_id)
    return report


def run_backup(settings: Settings, dsn: str, *, run_id: str | None = None, retention: bool = True,
               new_key: bool = False) -> BackupOutcome:
    """Take a backup, verify it, then apply retention (only after a successful verification).

    A backup that cannot be taken or fails verification alerts.

    :param settings: the settings.
    :param dsn: the vectors database.
    :param run_id: recorded with the backup and sent with alerts.
    :param retention: apply retention after a verified backup.
    :param new_key: start a new signing key although signed backups are recorded (see :func:`take_backup`).
    :raises BackupError: when the backup cannot be taken, its signing key included (after alerting).
    """
    try:
        taken = take_backup(settings, dsn, run_id=run_id, new_key=new_key)
    except BackupError as exc:
        alert(BACKUP_FAILED, str(exc), [{"expectation": "backup_taken", "observed": str(exc)}], dag_id=None,
              run_id=run_id)
        raise
    report = verify_and_record(dsn, taken.backup_id, run_id=run_id, settings=settings)
    kept = apply_retention(dsn, settings.backup) if retention and report.ok else None
    return BackupOutcome(taken, report, kept)


def check_and_alert_freshness(settings: Settings, dsn: str, *, dag_id: str | None = None, run_id: str | None = None,
                              task_id: str | None = None) -> Freshness:
    """Check the newest verified backup's age and alert when it is stale.

    :param settings: the settings (``VECTOROPS_BACKUP_MAX_AGE_HOURS``).
    :param dsn: the vectors database.
    :param dag_id: the DAG, for the alert.
    :param run_id: the run, for the alert.
    :param task_id: the task, for the alert.
    """
    freshness = check_freshness(dsn, settings.backup.max_age_h)
    if freshness.stale:
        log.error("%s", freshness.describe())
        alert(BACKUP_STALE, freshness.describe(), freshness.failed_expectations(), dag_id=dag_id, run_id=run_id,
              task_id=task_id)
    else:
        log.info("%s", freshness.describe())
    return freshness
