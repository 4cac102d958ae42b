"""Retention decisions and DSN redaction of the backup package, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vectorops.backup.ledger import BackupRow
from vectorops.backup.pg_tools import redacted_dsn
from vectorops.backup.retention import plan_retention
from vectorops.config import BackupSettings

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _row(backup_id: str, status: str, days_old: float) -> BackupRow:
    return BackupRow(backup_id, NOW - timedelta(days=days_old), None, status, f"/b/{backup_id}", None, None, None,
                     None, None, None, None, None, None, None, None)


def test_keeps_the_newest_n_verified_and_never_counts_unverified_ones() -> None:
    rows = [_row("f1", "failed", 0.1), _row("v1", "verified", 1), _row("f2", "failed", 1.5), _row("v2", "verified", 2),
            _row("v3", "verified", 3)]
    plan = plan_retention(rows, BackupSettings(Path("/b"), keep=2, retention_days=30), NOW)
    assert plan.kept == ["v1", "v2"]
    assert [backup_id for backup_id, _ in plan.expired] == ["v3"]


def test_age_expires_verified_backups_but_the_newest_and_old_failed_ones() -> None:
    rows = [_row("v1", "verified", 40), _row("v2", "verified", 50), _row("f1", "failed", 45),
            _row("r1", "running", 2)]
    plan = plan_retention(rows, BackupSettings(Path("/b"), keep=7, retention_days=30), NOW)
    assert plan.kept == ["v1"]  # the newest verified backup is kept, however old
    assert dict(plan.expired).keys() == {"v2", "f1"}


def test_redacted_dsn_hides_the_password() -> None:
    text = redacted_dsn("postgresql://vectorops:s3cret-pw@127.0.0.1:5432/vectorops")
    assert "s3cret-pw" not in text and "***" in text and "dbname=vectorops" in text
