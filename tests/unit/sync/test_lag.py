"""The lag alert's decision: a sync whose oldest unapplied change waited longer than the limit alerts."""

from __future__ import annotations

import dataclasses
from typing import Any

from vectorops.sync.lag import EVENT, lag_breach
from vectorops.sync.report import outcome_line
from vectorops.sync.run import SyncFailure, SyncResult


def _result(lag_records: int | None, lag_seconds: float) -> SyncResult:
    return SyncResult(sync_id="sync-1", collection="acme/prod/docs", table="vectors.docs", from_point=10,
                      read_point=20, added=3, updated=2, deleted=1, quarantined=0, source_count=100,
                      lag_records=lag_records, lag_seconds=lag_seconds, seconds=1.5, in_parity=True, started_at=0.0)


def test_a_lag_at_or_below_the_limit_does_not_alert(settings: Any) -> None:
    limit = dataclasses.replace(settings, sync_max_lag_s=60.0)
    assert lag_breach(_result(0, 0.0), limit) is None
    assert lag_breach(_result(5, 60.0), limit) is None


def test_a_lag_above_the_limit_names_the_collection_records_seconds_and_limit(settings: Any) -> None:
    breach = lag_breach(_result(7, 61.25), dataclasses.replace(settings, sync_max_lag_s=60.0))
    assert breach is not None
    assert breach.describe() == ("collection 'acme/prod/docs' (vectors.docs) is 7 change(s) and 61.2s behind its "
                                 "source after its sync, above VECTOROPS_SYNC_MAX_LAG_S=60s")
    event = breach.event("chroma_sync", "scheduled__1")
    assert (event.event, event.collection, event.table) == (EVENT, "acme/prod/docs", "vectors.docs")
    assert event.failed_expectations == [{"expectation": "sync_lag_seconds", "observed": {
        "lag_seconds": 61.25, "lag_records": 7, "max_lag_s": 60.0}}]
    assert event.run_url is not None and event.run_url.endswith("/dags/chroma_sync/runs/scheduled__1")
    assert event.message == breach.describe()


def test_a_server_sync_whose_lag_in_records_is_unknown_says_so(settings: Any) -> None:
    breach = lag_breach(_result(None, 1000.0), settings)
    assert breach is not None and "an unknown number of change(s) and 1000.0s" in breach.describe()
    assert breach.event(None, None).run_url is None


def test_the_report_line_is_the_vectorops_sync_line() -> None:
    assert outcome_line(_result(0, 0.0)) == (
        "acme/prod/docs → vectors.docs: added 3, updated 2, deleted 1, quarantined 0; read point 10 → 20 "
        "(100 records); lag 0 record(s), 0.0s; in parity; 1.50s")
    assert outcome_line(SyncFailure("docs", "CollectionBusy: busy")) == "docs: NOT SYNCED: CollectionBusy: busy"
