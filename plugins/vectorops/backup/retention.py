"""Retention: keep the newest N verified backups and none older than the age limit; unverified ones never count.

The newest verified backup is always kept. Failed (or abandoned ``running``/``verifying``) backups count toward
nothing; their files are removed once they are older than the age limit. A backup whose process was killed
half-way is first closed as ``failed`` (:func:`~vectorops.backup.ledger.close_interrupted`). Expired backups
keep their row, with status ``expired`` and the reason in ``details``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vectorops.backup import ledger
from vectorops.backup.ledger import BackupRow
from vectorops.backup.manifest import CHROMA, DUMP, MANIFEST, ROLES
from vectorops.backup.signing import SIGNATURE
from vectorops.backup.take import BackupError
from vectorops.config import BackupSettings

log = logging.getLogger(__name__)

BACKUP_FILES = (DUMP, ROLES, CHROMA, MANIFEST, SIGNATURE, f".{MANIFEST}.partial", f".{CHROMA}.partial",
                f".{SIGNATURE}.partial")


@dataclass
class RetentionResult:
    """What retention kept and expired.

    :param kept: ids of the verified backups kept, newest first.
    :param expired: ``(backup_id, reason)`` of each backup expired now.
    """

    kept: list[str] = field(default_factory=list)
    expired: list[tuple[str, str]] = field(default_factory=list)


def plan_retention(rows: list[BackupRow], policy: BackupSettings, now: datetime) -> RetentionResult:
    """Decide which backups to expire; nothing is changed.

    :param rows: backups, any status.
    :param policy: ``keep`` and ``retention_days``.
    :param now: the time ages are measured at.
    """
    result = RetentionResult()
    max_age = timedelta(days=policy.retention_days)
    verified = sorted((r for r in rows if r.status == "verified"), key=lambda r: (r.started_at, r.backup_id),
                      reverse=True)
    for rank, row in enumerate(verified):
        if rank == 0:
            result.kept.append(row.backup_id)
        elif rank >= policy.keep:
            result.expired.append((row.backup_id, f"beyond the newest {policy.keep} verified backup(s)"))
        elif now - row.started_at > max_age:
            result.expired.append((row.backup_id, f"verified, older than {policy.retention_days:g} day(s)"))
        else:
            result.kept.append(row.backup_id)
    for row in rows:
        if row.status in ("failed", "running", "verifying") and now - row.started_at > max_age:
            result.expired.append((row.backup_id, f"{row.status} (never verified), older than "
                                                  f"{policy.retention_days:g} day(s)"))
    return result


def remove_backup_files(backup_id: str, directory: Path) -> None:
    """Delete a backup's files and its directory; anything else in the directory stops the removal.

    :param backup_id: the backup, which must be the directory's name.
    :param directory: its directory (already gone is fine).
    :raises BackupError: naming the directory when it is not a backup directory of ``backup_id``.
    """
    if not directory.exists():
        return
    if directory.name != backup_id:
        raise BackupError(f"backup {backup_id}: refusing to delete {directory}, which is not named after it")
    foreign = sorted(p.name for p in directory.iterdir() if p.name not in BACKUP_FILES)
    if foreign:
        raise BackupError(f"backup {backup_id}: {directory} holds files no backup writes ({', '.join(foreign)}); "
                          "not deleted")
    for name in BACKUP_FILES:
        (directory / name).unlink(missing_ok=True)
    directory.rmdir()


def apply_retention(dsn: str, policy: BackupSettings, now: datetime | None = None) -> RetentionResult:
    """Expire the backups :func:`plan_retention` picks: delete their files and mark them ``expired``.

    :param dsn: the vectors database.
    :param policy: ``keep`` and ``retention_days``.
    :param now: the time ages are measured at (default now).
    :raises BackupError: after trying every backup, naming those whose files could not be removed.
    """
    ledger.close_interrupted(dsn)
    rows = ledger.list_backups(dsn, ("verified", "failed", "running", "verifying"))
    result = plan_retention(rows, policy, now or datetime.now(UTC))
    paths = {r.backup_id: Path(r.path) for r in rows}
    problems = []
    for backup_id, reason in result.expired:
        try:
            remove_backup_files(backup_id, paths[backup_id])
        except (BackupError, OSError) as exc:
            problems.append(str(exc))
            continue
        ledger.set_status(dsn, backup_id, "expired", details={"expired_reason": reason,
                                                               "expired_at": datetime.now(UTC).isoformat()})
        log.info("backup %s expired (%s); removed %s", backup_id, reason, paths[backup_id])
    if problems:
        raise BackupError("retention could not remove every expired backup: " + "; ".join(problems))
    return result
