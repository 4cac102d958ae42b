"""Is there a recent verified backup? The staleness check of ``VECTOROPS_BACKUP_MAX_AGE_HOURS``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from vectorops.backup import ledger


@dataclass(frozen=True)
class Freshness:
    """The age of the newest verified backup against the limit.

    :param backup_id: the newest verified backup, ``None`` when there is none.
    :param taken_at: when its snapshot was taken.
    :param age_h: its age in hours.
    :param max_age_h: the limit.
    """

    backup_id: str | None
    taken_at: datetime | None
    age_h: float | None
    max_age_h: float

    @property
    def stale(self) -> bool:
        """No verified backup, or the newest is older than the limit."""
        return self.age_h is None or self.age_h > self.max_age_h

    def describe(self) -> str:
        """One line for logs, the CLI and alerts."""
        if self.backup_id is None:
            return f"no verified backup exists (VECTOROPS_BACKUP_MAX_AGE_HOURS={self.max_age_h:g})"
        state = "older than" if self.stale else "within"
        return (f"newest verified backup {self.backup_id} was taken {self.age_h:.1f} h ago, {state} "
                f"VECTOROPS_BACKUP_MAX_AGE_HOURS={self.max_age_h:g}")

    def failed_expectations(self) -> list[dict[str, object]]:
        """The alert's failed expectation when stale, else none."""
        if not self.stale:
            return []
        return [{"expectation": "newest_verified_backup_age_hours", "observed": {
            "backup_id": self.backup_id, "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "age_hours": round(self.age_h, 2) if self.age_h is not None else None, "max_age_hours": self.max_age_h}}]


def check_freshness(dsn: str, max_age_h: float, now: datetime | None = None) -> Freshness:
    """How old the newest verified backup is.

    :param dsn: the vectors database.
    :param max_age_h: the limit in hours.
    :param now: the time to measure at (default now).
    """
    newest = ledger.newest_verified(dsn)
    if newest is None:
        return Freshness(None, None, None, max_age_h)
    age_h = ((now or datetime.now(UTC)) - newest.started_at).total_seconds() / 3600
    return Freshness(newest.backup_id, newest.started_at, age_h, max_age_h)
