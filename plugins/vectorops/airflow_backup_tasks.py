"""Airflow glue for the ``pgvector_backup`` DAG: context in, backup steps called, alerted failures out.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from vectorops import db
from vectorops.backup import jobs
from vectorops.backup.retention import apply_retention
from vectorops.backup.take import take_backup
from vectorops.config import load_settings

log = logging.getLogger(__name__)


def _context() -> Any:
    from airflow.sdk import get_current_context

    return get_current_context()


def _where() -> dict[str, str | None]:
    context = _context()
    ti = context.get("ti")
    return {"dag_id": context["dag"].dag_id, "run_id": str(context["run_id"]),
            "task_id": getattr(ti, "task_id", None)}


def _fail_alerted(message: str, failed: list[dict[str, Any]]) -> None:
    """Fail the task without retries; the alert was sent, so the failure callback sends none."""
    from vectorops.alert_notifier import alerted_failure

    raise alerted_failure(message, failed)


def take() -> dict[str, Any]:
    """Take a backup of the registry schemas and ``vectorops`` (and Chroma, when configured)."""
    settings = load_settings()
    taken = take_backup(settings, db.bootstrap(settings), run_id=_where()["run_id"])
    return {"backup_id": taken.backup_id, "path": str(taken.directory), "tables": len(taken.manifest.vector_tables),
            "rows": taken.manifest.total_rows, "files": {e.name: e.bytes for e in taken.manifest.files.values()}}


def verify(backup: dict[str, Any]) -> dict[str, Any]:
    """Verify the backup by restoring it into a scratch database; a mismatch is recorded, alerted and fails."""
    settings = load_settings()
    report = jobs.verify_and_record(db.bootstrap(settings), backup["backup_id"], **_where())
    if not report.ok:
        _fail_alerted(report.describe(), report.failures)
    return {"backup_id": report.backup_id, "tables": report.tables, "rows": report.rows,
            "seconds": round(report.seconds, 2)}


def retain() -> dict[str, Any]:
    """Expire verified backups beyond the newest N or the age limit, and old unverified ones."""
    settings = load_settings()
    result = apply_retention(db.bootstrap(settings), settings.backup)
    for backup_id, reason in result.expired:
        log.info("expired backup %s: %s", backup_id, reason)
    return {"kept": result.kept, "expired": [backup_id for backup_id, _ in result.expired]}


def check_age() -> dict[str, Any]:
    """Fail, alerted, when the newest verified backup is older than ``VECTOROPS_BACKUP_MAX_AGE_HOURS``."""
    settings = load_settings()
    freshness = jobs.check_and_alert_freshness(settings, db.bootstrap(settings), **_where())
    if freshness.stale:
        _fail_alerted(freshness.describe(), freshness.failed_expectations())
    return {"backup_id": freshness.backup_id, "age_hours": round(freshness.age_h or 0.0, 2),
            "max_age_hours": freshness.max_age_h}
