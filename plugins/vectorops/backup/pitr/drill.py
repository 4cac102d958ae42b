"""The recovery drill: prove, off the production server, that the base backups and the WAL archive bring the data back.

The newest verified logical backup's manifest holds the counts, checksums and fixed top-10 queries of every table,
taken on the production server in the backup's snapshot, and the WAL position that snapshot was taken at. The drill
recovers a scratch server from the base backups and the archive to exactly that position
(:func:`~vectorops.backup.pitr.recover.recover_to_lsn`) and runs the manifest's comparison
(:func:`~vectorops.backup.compare.compare_database`) there. Every query of the comparison runs on the scratch
server's port; the production server only archives its current segment (:func:`~vectorops.backup.pitr.archive_status.
archive_now`) and reports its archiver's state.

A transaction that committed in the instant between the snapshot and the reading of the WAL position is in the
recovery but not in the manifest: the drill counts those on the recovered server (``pg_xact_status`` of the ids the
snapshot did not see) and then calls itself ``inconclusive`` instead of failing. Each drill is a row of
``vectorops.recovery_drills``; a failed one alerts.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from vectorops.backup import ledger
from vectorops.backup.compare import compare_database
from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import MANIFEST, read_manifest
from vectorops.backup.pitr.archive_status import archive_status
from vectorops.backup.pitr.catalog import base_backups
from vectorops.backup.pitr.drill_age import stale_reason
from vectorops.backup.pitr.recover import recover_to_lsn, remove_recovered
from vectorops.backup.verify import authenticity_failures
from vectorops.config import Settings
from vectorops.db import runtime, scratch_server
from vectorops.db.connect import connect
from vectorops.db.sql_files import sql_text

log = logging.getLogger(__name__)

DRILL_FAILED = "recovery_drill_failed"
DRILL_STALE = "recovery_drill_stale"


@dataclass
class DrillReport:
    """One drill.

    :param drill_id: its id (sorts by time).
    :param started_at: when it started.
    :param status: ``passed``, ``failed`` or ``inconclusive``.
    :param backup_id: the logical backup whose snapshot it recovered to.
    :param target_lsn: that snapshot's WAL position.
    :param target_at: when that snapshot was taken.
    :param base_backups: the chain it combined.
    :param recovery_seconds: combining and replaying, until the scratch server opened.
    :param scratch_port: the scratch server's port: every comparison query ran there.
    :param tables: tables compared.
    :param total_rows: vector rows compared.
    :param archive_lag_seconds: how long before the drill the newest archived segment was archived: the RPO the
        archive offered then.
    :param error: why it failed or was inconclusive.
    :param failures: the failed expectations, as the backup verification reports them.
    """

    drill_id: str
    started_at: datetime
    status: str = "failed"
    backup_id: str | None = None
    target_lsn: str | None = None
    target_at: datetime | None = None
    base_backups: list[str] = field(default_factory=list)
    recovery_seconds: float | None = None
    scratch_port: int | None = None
    tables: int | None = None
    total_rows: int | None = None
    archive_lag_seconds: float | None = None
    error: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """One line: what the drill found."""
        if self.status == "passed":
            return (f"recovery drill {self.drill_id} passed: backup {self.backup_id}'s {self.tables} table(s), "
                    f"{self.total_rows} vector rows, recovered to {self.target_lsn} ({self.target_at}) from "
                    f"{', '.join(self.base_backups)} in {self.recovery_seconds:.1f}s on port {self.scratch_port}, "
                    "match its manifest")
        return f"recovery drill {self.drill_id} {self.status}: {self.error}"


def _archive_lag(settings: Settings) -> float | None:
    with psycopg.connect(runtime.dsn(settings, "postgres"), autocommit=True) as conn:
        archived_at = archive_status(conn).last_archived_at
    return None if archived_at is None else (datetime.now(UTC) - archived_at).total_seconds()


def run_drill(settings: Settings, ledger_dsn: str) -> DrillReport:
    """Recover the newest verified backup's snapshot on a scratch server, compare it with the manifest, record it.

    :param settings: the settings (repository, signing key, the production logins).
    :param ledger_dsn: the vectors database: its ``vectorops.backups`` names the backup, its
        ``vectorops.recovery_drills`` records the drill.
    :return: the report, recorded (a failed one is also alerted by the caller).
    """
    started = datetime.now(UTC)
    report = DrillReport(f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}", started)
    try:
        _drill(settings, ledger_dsn, report)
    except (BackupError, psycopg.Error, OSError, ValueError) as exc:
        report.status, report.error = "failed", str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        report.failures = report.failures or [{"expectation": "recovered", "observed": str(exc)[-2000:]}]
    _record(ledger_dsn, report)
    log.info("%s", report.describe())
    return report


def _drill(settings: Settings, ledger_dsn: str, report: DrillReport) -> None:
    newest = ledger.newest_verified(ledger_dsn)
    if newest is None:
        report.status, report.error = "inconclusive", "no verified backup to recover to yet"
        return
    manifest_path = Path(newest.path) / MANIFEST
    manifest = read_manifest(manifest_path)
    report.backup_id = manifest.backup_id
    forged = authenticity_failures(manifest_path, manifest, settings.home)
    if forged:
        report.failures = forged
        raise BackupError(f"backup {manifest.backup_id}'s manifest is not authentic")
    if manifest.wal_lsn is None or manifest.snapshot_xids is None:
        report.status = "inconclusive"
        report.error = f"backup {manifest.backup_id} recorded no WAL position (taken by an older vectorops)"
        return
    report.target_lsn = manifest.wal_lsn
    report.target_at = datetime.fromisoformat(manifest.created_at)
    if not any(b.finished_at < report.target_at for b in base_backups(settings.pitr.base_dir)):
        report.status = "inconclusive"  # the platform's first day: its first base backup ran beside that dump
        report.error = (f"no base backup had finished before backup {manifest.backup_id}'s snapshot "
                        f"({report.target_at.isoformat()}); the next drill will have one")
        return
    report.archive_lag_seconds = _archive_lag(settings)
    clock = time.perf_counter()
    server = recover_to_lsn(settings, manifest.wal_lsn, report.target_at)
    claim = scratch_server.reclaim(server.directory.parent)  # a killed drill's server is removed by the next one
    report.recovery_seconds = time.perf_counter() - clock
    report.base_backups, report.scratch_port = list(server.chain), server.port
    try:
        with connect(server.dsn, autocommit=True, application_name="vectorops-drill") as conn:
            unseen = conn.execute(sql_text("backup/count_committed_after_snapshot"),
                                  {"snapshot": manifest.snapshot_xids}).fetchone()
            if unseen and unseen[0]:
                report.status = "inconclusive"
                report.error = (f"{unseen[0]} transaction(s) committed between backup {manifest.backup_id}'s snapshot "
                                "and the WAL position it read: the recovery holds them, its manifest does not")
                return
            report.failures = compare_database(conn, manifest)
    finally:
        remove_recovered(server.directory)
        os.close(claim)
    report.tables, report.total_rows = len(manifest.tables), manifest.total_rows
    if report.failures:
        report.error = (f"the server recovered to backup {manifest.backup_id}'s snapshot differs from its manifest: "
                        + ", ".join(sorted({f['expectation'] for f in report.failures})))
        return
    report.status = "passed"


def _record(ledger_dsn: str, report: DrillReport) -> None:
    with connect(ledger_dsn, autocommit=True) as conn:
        conn.execute(sql_text("backup/insert_recovery_drill"), {
            "drill_id": report.drill_id, "started_at": report.started_at, "status": report.status,
            "backup_id": report.backup_id, "target_lsn": report.target_lsn, "target_at": report.target_at,
            "base_backups": report.base_backups, "recovery_seconds": report.recovery_seconds,
            "scratch_port": report.scratch_port, "tables": report.tables, "total_rows": report.total_rows,
            "archive_lag_seconds": report.archive_lag_seconds, "error": report.error,
            "details": Jsonb({"failures": report.failures[:20]})})


def stale_drill(dsn: str, max_age_h: float) -> str | None:
    """Why the drills are stale, ``None`` when they are not: the newest passed drill is older than ``max_age_h``, or
    none has passed although the first drill is that old (a platform's first drill may be inconclusive).

    :param dsn: the vectors database.
    :param max_age_h: the age from which a drill is stale (``VECTOROPS_BACKUP_MAX_AGE_HOURS``).
    """
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql_text("backup/select_drill_ages")).fetchone()
    passed_h, first_h = (row or (None, None))
    return stale_reason(passed_h, first_h, max_age_h)

