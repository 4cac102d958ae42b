"""When the recovery drills are stale."""

from __future__ import annotations

from vectorops.backup.pitr.drill_age import stale_reason


def test_a_passed_drill_is_stale_only_past_the_limit() -> None:
    assert stale_reason(26.0, 100.0, 26.0) is None
    assert stale_reason(30.04, 100.0, 26.0) == ("the newest passed recovery drill is 30.0 h old "
                                               "(VECTOROPS_BACKUP_MAX_AGE_HOURS=26)")


def test_without_a_passed_drill_the_first_drill_sets_the_clock() -> None:
    assert stale_reason(None, None, 26.0) is None  # no drill yet
    assert stale_reason(None, 2.0, 26.0) is None  # a platform's first drill may be inconclusive
    assert stale_reason(None, 27.0, 26.0) == "no recovery drill has passed in the 27.0 h since the first one"
