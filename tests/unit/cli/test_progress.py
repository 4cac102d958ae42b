"""The migration's progress bars, as drawn from the rows the ledger poll returns."""

from __future__ import annotations

import io

from vectorops.cli.progress import MigrationProgress, collections_bar


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


def test_the_collections_bar_is_silent_off_a_terminal() -> None:
    with collections_bar("validating", 3) as advance:  # pytest's stderr is no terminal
        advance("a")
