"""The migration's progress bars, as drawn from the rows the ledger poll returns."""

from __future__ import annotations

import io

from vectorops.cli.progress import MigrationProgress, SyncProgress, collections_bar


def test_bars_follow_the_ledger_rows() -> None:
    bars = MigrationProgress("unused", "token", io.StringIO(), force_terminal=True)
    bars.show([("docs", "scanning", None, 0), ("faq@0a1b2c3d", "loading", 400, 100)])
    text = bars.text()
    assert "docs scanning" in text and "faq" in text and "100/400" in text and "rows/s" in text, text
    bars.show([("docs", "loading", 300, 300), ("faq@0a1b2c3d", "promoted", 400, 390)])
    text = bars.text()
    assert "300/300" in text and "faq promoted" in text and "400/400" in text, text  # quarantine counts as done
    bars.show([("docs", "failed", 300, 120), ("faq@0a1b2c3d", "promoted", 400, 390)])
    assert "docs failed" in bars.text() and "120/300" in bars.text()
    # a long name and a large collection still fit one line of an 80-column terminal
    bars.show([("a-collection-with-a-very-long-name", "loading", 12_000_000, 3_456_789)])
    lines = bars.text().strip().splitlines()
    assert len(lines) == 3 and "a-collection-wi" in lines[-1] and "3456789/12000000" in lines[-1], lines


def test_a_sync_bar_counts_records_and_learns_its_total_at_the_end() -> None:
    bars = SyncProgress("unused", io.StringIO(), force_terminal=True)
    bars.show([("docs", "done", None, 40), ("docs", "running", None, 7), ("faq", "running", None, 12)])
    lines = bars.text().strip().splitlines()
    assert lines[0].startswith("docs ") and "7/?" in lines[0] and "records/s" in lines[0], lines  # the latest run
    bars.show([("docs", "done", None, 9), ("faq", "failed", None, 12)])
    text = bars.text()
    assert "docs done" in text and "9/9" in text and "faq failed" in text and "12/?" in text, text


def test_the_collections_bar_is_silent_off_a_terminal() -> None:
    with collections_bar("validating", 3) as advance:  # pytest's stderr is no terminal
        advance("a")
