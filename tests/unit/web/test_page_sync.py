"""The Vector Health page's live-sync cells: state and read point, lag in records and seconds, the newest sync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vectorops.web.page import collections_page

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _collection(name: str, sync: dict[str, Any]) -> dict[str, Any]:
    return {"collection": name, "table": f"vectors.{name}", "rows": 10, "rows_estimated": False, "table_exists": True,
            "dimensions": 8, "distance": "cosine", "embedding_model": None,
            "index": {"name": "ix", "type": "hnsw", "bytes": 4096, "valid": True},
            "last_migration": {"run_id": None, "migrated_at": None}, "last_validation": None, "last_backup": None,
            "search": None, "sync": sync}


def _row(html: str, name: str) -> str:
    return html.split(f'<tr data-collection="{name}">', 1)[1].split("</tr>", 1)[0]


def _page(*collections: dict[str, Any]) -> str:
    return collections_page(list(collections), {}, max_p95_ms=50.0, min_recall=0.95, days=7, generated_at=NOW,
                            max_lag_s=900.0)


def test_a_syncing_collection_shows_its_read_point_lag_and_last_sync_counts() -> None:
    html = _page(_collection("live", {
        "state": "syncing", "read_point": 1234, "read_point_at": "2026-03-01T11:50:00+00:00", "lag_records": 3,
        "lag_seconds": 1200.0, "lag_checked_at": "2026-03-01T11:59:00+00:00", "cut_over_at": None,
        "last_sync": {"sync_id": "sync-1", "kind": "sync", "status": "done", "added": 7, "updated": 4, "deleted": 2,
                      "quarantined": 1, "started_at": "2026-03-01T11:58:00+00:00",
                      "finished_at": "2026-03-01T11:59:00+00:00", "error": None}}))
    row = _row(html, "live")
    assert '<span class="sync-state pass">syncing</span>' in row and "read point 1234" in row
    assert '<span class="lag-records">3 record(s)</span>' in row
    assert '<span class="lag-seconds fail">1,200.0 s</span>' in row  # above VECTOROPS_SYNC_MAX_LAG_S
    assert '<span class="sync-status pass">done</span>' in row
    assert "added 7, updated 4, deleted 2, quarantined 1" in row and "2026-03-01 11:59 UTC" in row
    assert '<td class="rows">10</td>' in row  # the end-to-end tests' contract


def test_a_migrated_collection_never_synced_and_a_failed_cutover_say_so() -> None:
    html = _page(
        _collection("cold", {"state": "migrated", "read_point": None, "read_point_at": None, "lag_records": None,
                             "lag_seconds": None, "lag_checked_at": None, "cut_over_at": None, "last_sync": None}),
        _collection("done", {"state": "syncing", "read_point": 9, "read_point_at": None, "lag_records": 0,
                             "lag_seconds": 0.0, "lag_checked_at": None, "cut_over_at": None,
                             "last_sync": {"sync_id": "cutover-1", "kind": "cutover", "status": "failed", "added": 0,
                                           "updated": 0, "deleted": 0, "quarantined": 0,
                                           "started_at": "2026-03-01T11:00:00+00:00", "finished_at": None,
                                           "error": "SourceChanged: written <during> the cutover"}}))
    cold = _row(html, "cold")
    assert '<span class="sync-state muted">migrated</span>' in cold and "unknown" in cold and "never" in cold
    failed = _row(html, "done")
    assert '<span class="lag-seconds">0.0 s</span>' in failed
    assert '<span class="sync-status fail">failed</span> cutover' in failed
    assert "written &lt;during&gt; the cutover" in failed  # escaped
