"""The Vector Health page's Recovery section: the last verified drill, a failed one after it, the RPO then and now,
the WAL archive's lag, and what it says when there is nothing to show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vectorops.web.page import EMPTY_MESSAGE, collections_page
from vectorops.web.recovery_panel import ARCHIVE_OFF, recovery_section

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
VERIFIED = {"drill_id": "d1", "finished_at": "2026-03-08T02:00:00+00:00", "target_at": "2026-03-08T01:30:00+00:00",
            "backup_id": "b<1>", "base_backups": ["full-1", "incr-2"], "recovery_seconds": 42.5, "rpo_seconds": 1.25,
            "tables": 2, "total_rows": 400}
ARCHIVING = {"state": "archiving", "mode": "on", "archive_timeout_s": 60, "current_wal": "000000010000000000000009",
             "last_archived_wal": "000000010000000000000008", "last_archived_at": "2026-03-08T11:59:30+00:00",
             "last_failed_wal": None, "last_failed_at": None, "segments_waiting": 0, "seconds_since_archive": 30.0,
             "rpo_seconds": 30.0, "reason": None}


def _recovery(drills: dict[str, Any], archive: dict[str, Any]) -> dict[str, Any]:
    base = {"state": "recorded", "verified": None, "last": None, "stale": None, "reason": None}
    return {"database": "vectors", "drills": {**base, **drills}, "archive": archive}


def _cell(html: str, css: str) -> str:
    return html.split(f'<td class="{css}">', 1)[1].split("</td>", 1)[0]


def test_the_last_verified_drill_and_a_failed_one_after_it() -> None:
    html = recovery_section(_recovery({"verified": VERIFIED, "last": {
        "drill_id": "d2", "status": "failed", "finished_at": "2026-03-08T10:00:00+00:00",
        "error": "could not restore <segment>"}}, ARCHIVING))
    assert html.startswith('<section id="recovery" data-database="vectors">')
    verified = _cell(html, "verified-drill")
    assert '<span class="pass drill-status">passed</span>' in verified and "2026-03-08 02:00 UTC" in verified
    assert "recovered in 42.5 s to" in verified and "2026-03-08 01:30 UTC" in verified
    assert "from full-1 + incr-2; backup b&lt;1&gt;" in verified and "stale" not in verified
    last = _cell(html, "last-drill")
    assert '<span class="fail drill-status">failed</span>' in last
    assert "could not restore &lt;segment&gt;" in last
    assert _cell(html, "rpo") == ('<span class="rpo-drill">at the drill 1.2 s</span>, '
                                  '<span class="rpo-now">now 30.0 s</span>')
    archive = _cell(html, "wal-archive")
    assert '<span class="segments-waiting pass">0 segment(s) waiting</span>' in archive
    assert "last archived 30.0 s ago" in archive and "writing 000000010000000000000009" in archive


def test_a_passed_newest_drill_is_shown_once_and_a_stale_one_is_marked() -> None:
    html = recovery_section(_recovery({"verified": VERIFIED, "last": {**VERIFIED, "status": "passed", "error": None},
                                       "stale": "the newest passed recovery drill is 30.0 h old"}, ARCHIVING))
    assert "last-drill" not in html
    assert '<span class="fail stale">stale: the newest passed recovery drill is 30.0 h old</span>' in html


def test_a_failing_or_lagging_archiver_is_a_problem() -> None:
    failing = recovery_section(_recovery({"state": "none"}, {
        **ARCHIVING, "state": "failing", "last_failed_wal": "00000001000000000000000A",
        "last_failed_at": "2026-03-08T11:59:50+00:00", "segments_waiting": 3, "rpo_seconds": 600.0}))
    archive = _cell(failing, "wal-archive")
    assert '<span class="fail archive-failing">archiving fails: segment 00000001000000000000000A' in archive
    assert '<span class="segments-waiting warn">3 segment(s) waiting</span>' in archive
    assert '<span class="rpo-now warn">now 10 min 00 s</span>' in _cell(failing, "rpo")  # over 2 × archive_timeout
    assert "no recovery drill yet: <code>pgvector_backup</code> runs one" in _cell(failing, "verified-drill")


def test_archiving_off_says_there_is_no_point_in_time_recovery_instead_of_a_lag() -> None:
    off = {**ARCHIVING, **dict.fromkeys(ARCHIVING, None), "state": "off", "mode": "off"}
    html = recovery_section(_recovery({"state": "none"}, off))
    assert _cell(html, "wal-archive") == f'<span class="warn archive-off">{ARCHIVE_OFF}</span>'
    assert _cell(html, "rpo") == '<span class="muted">—</span>' and "segment" not in html
    assert '<span class="muted no-drills">no recovery drill yet' in html  # nothing to drill without an archive


def test_no_drills_table_and_an_unreadable_archiver_say_so() -> None:
    unknown = {**dict.fromkeys(ARCHIVING), "state": "unknown", "mode": "on",
               "reason": "vectorops_reader may not read pg_stat_archiver; a member of pg_monitor may"}
    html = recovery_section(_recovery({"state": "no_table"}, unknown))
    assert "this database has no <code>vectorops.recovery_drills</code> table" in html
    assert ('<span class="warn archive-unknown">unknown (vectorops_reader may not read pg_stat_archiver; a member of '
            "pg_monitor may)</span>") in html


def test_the_empty_page_still_shows_the_recovery_section() -> None:
    html = collections_page([], {}, max_p95_ms=50.0, min_recall=0.9, days=7, generated_at=NOW,
                            recovery=_recovery({"state": "no_table"}, {**ARCHIVING, "state": "off"}))
    assert EMPTY_MESSAGE in html and '<section id="recovery" data-database="vectors">' in html
    assert 'id="recovery"' not in collections_page([], {}, max_p95_ms=50.0, min_recall=0.9, days=7, generated_at=NOW)
