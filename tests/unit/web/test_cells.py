"""One collection's row: the run link navigates the frame, load rate and end-to-end time apart, the backup hint."""

from __future__ import annotations

from typing import Any

import pytest

from vectorops.web.cells import duration, row

RUN_ID = "manual__2026-03-01T12:00:00+00:00"


def _collection(last_migration: dict[str, Any], last_backup: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"collection": "docs", "table": "vectors.docs", "rows": 200, "rows_estimated": False, "table_exists": True,
            "dimensions": 8, "distance": "cosine", "embedding_model": None,
            "index": {"name": "ix", "type": "hnsw", "bytes": 4096, "valid": True},
            "last_migration": last_migration, "last_validation": None, "last_backup": last_backup, "search": None,
            "sync": {"state": "migrated", "lag_records": None}}


def _cell(html: str, css: str) -> str:
    return html.split(f'<td class="{css}">', 1)[1].split("</td>", 1)[0]


def test_run_link_navigates_the_frame_and_shows_load_rate_and_end_to_end_apart() -> None:
    html = row(_collection({"run_id": RUN_ID, "migrated_at": "2026-03-01T12:01:04+00:00", "rows_per_s": 3.1,
                            "load_rows_per_s": 11_020.4, "end_to_end_seconds": 64.2, "load_seconds": 0.018,
                            "validate_seconds": 45.06, "index_seconds": 0.31}), None)
    cell = _cell(html, "migration")
    # no target: Airflow's plugin iframe allows neither top navigation nor popups
    assert ('<a class="run-link" href="/dags/chroma_to_pgvector/runs/manual__2026-03-01T12%3A00%3A00%2B00%3A00">'
            f"{RUN_ID}</a>") in cell
    assert "target=" not in html
    assert '<span class="load-rate">load 11,020 rows/s</span>' in cell
    assert '<span class="end-to-end">end to end 1 min 04 s</span>' in cell
    assert '<span class="muted time-split">load 0.018 s, gate 45.1 s, index 0.310 s</span>' in cell
    assert "3 rows/s" not in cell  # the whole-attempt figure, the gate included, is not shown as a speed


def test_a_cli_run_is_named_without_a_link_it_has_no_airflow_page() -> None:
    cell = _cell(row(_collection({"run_id": "cli__20261205T213024-1a2b3c4d", "migrated_at": None,
                                  "rows_per_s": 812.0}), None), "migration")
    assert cell.startswith("cli__20261205T213024-1a2b3c4d<br>") and "<a " not in cell, cell


def test_a_migration_the_ledger_no_longer_holds_keeps_the_registry_figure() -> None:
    cell = _cell(row(_collection({"run_id": RUN_ID, "migrated_at": None, "rows_per_s": 812.0,
                                  "load_rows_per_s": None, "end_to_end_seconds": None}), None), "migration")
    assert '<span class="rows-per-s">812 rows/s</span>' in cell and "load-rate" not in cell


def test_no_verified_backup_says_what_to_run() -> None:
    html = row(_collection({"run_id": None, "migrated_at": None}), None)
    assert _cell(html, "backup") == ('<span class="warn no-backup">no verified backup yet: run '
                                     "<code>pgvector_backup</code></span>")
    backed_up = row(_collection({"run_id": None, "migrated_at": None},
                                {"backup_id": "bk-1", "verified_at": "2026-03-01T11:00:00+00:00"}), None)
    assert "no-backup" not in backed_up and "bk-1" in _cell(backed_up, "backup")


@pytest.mark.parametrize(("seconds", "text"), [(0.0421, "0.042 s"), (12.34, "12.3 s"), (59.96, "60.0 s"),
                                               (64.2, "1 min 04 s"), (3599.4, "59 min 59 s"),
                                               (7380.0, "2 h 03 min")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text
