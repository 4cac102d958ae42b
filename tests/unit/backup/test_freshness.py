"""The staleness check of the newest verified backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vectorops.backup import ledger
from vectorops.backup.freshness import Freshness, check_freshness

TAKEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_no_backup_is_stale() -> None:
    none = Freshness(None, None, None, 24)
    assert none.stale
    assert none.describe() == "no verified backup exists (VECTOROPS_BACKUP_MAX_AGE_HOURS=24)"
    assert none.failed_expectations() == [{"expectation": "newest_verified_backup_age_hours", "observed": {
        "backup_id": None, "taken_at": None, "age_hours": None, "max_age_hours": 24}}]


@pytest.mark.parametrize(("age_h", "stale"), [(0.0, False), (23.99, False), (24.0, False), (24.01, True)])
def test_stale_only_past_the_limit(age_h: float, stale: bool) -> None:
    assert Freshness("b1", TAKEN, age_h, 24).stale is stale


def test_describe_and_expectations() -> None:
    fresh = Freshness("b1", TAKEN, 2.25, 24.5)
    assert fresh.describe() == ("newest verified backup b1 was taken 2.2 h ago, within "
                                "VECTOROPS_BACKUP_MAX_AGE_HOURS=24.5")
    assert fresh.failed_expectations() == []
    old = Freshness("b2", TAKEN, 30.456, 24)
    assert "30.5 h ago, older than VECTOROPS_BACKUP_MAX_AGE_HOURS=24" in old.describe()
    assert old.failed_expectations()[0]["observed"] == {"backup_id": "b2", "taken_at": "2025-01-02T03:04:05+00:00",
                                                        "age_hours": 30.46, "max_age_hours": 24}


def test_check_freshness_measures_the_newest_verified_backup(dsn: str) -> None:
    newest = ledger.newest_verified(dsn)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    result = check_freshness(dsn, 12, now=now)
    if newest is None:  # the session's server may or may not hold one, depending on what ran before
        assert result == Freshness(None, None, None, 12)
    else:
        assert (result.backup_id, result.taken_at) == (newest.backup_id, newest.started_at)
        assert result.age_h == pytest.approx((now - newest.started_at) / timedelta(hours=1))
        later = check_freshness(dsn, 12, now=newest.started_at + timedelta(hours=1))
        assert later.age_h == pytest.approx(1.0) and not later.stale
