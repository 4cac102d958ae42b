"""The per-collection summary table and the CLI's run ids."""

from __future__ import annotations

import re
import time

from vectorops.migration.summary import cli_run_id, format_plan_table, format_table, load_rate, summary_note


def test_cli_run_id_is_a_utc_timestamp() -> None:
    before = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    run_id = cli_run_id()
    after = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    assert re.fullmatch(r"cli__\d{8}T\d{6}", run_id)
    assert before <= run_id.removeprefix("cli__") <= after


def test_rows_are_sorted_aligned_and_missing_values_are_dashes() -> None:
    lines = format_table([
        {"collection": "zeta", "status": "promoted", "read": 1000, "loaded": 998, "quarantined": 2,
         "dimensions": 384, "space": "cosine", "reader": "files", "rows_per_s": 12345.6, "table": "vectors.zeta",
         "quarantined_ids": ["bad-1", "bad-2"]},
        {"collection": "alpha", "status": "failed", "error": "boom", "read": 0, "space": ""},
    ])
    header, rule, alpha, error, zeta, q1, q2 = lines
    assert header.split() == ["collection", "status", "read", "loaded", "quarant.", "dims", "space", "reader",
                              "rows/s", "table"]
    assert rule == "-" * len(header)
    assert alpha.split() == ["alpha", "failed", "0", "-", "-", "-", "-", "-", "-", "-"]
    assert error == "    error: boom"
    assert zeta.split() == ["zeta", "promoted", "1000", "998", "2", "384", "cosine", "files", "12346",
                            "vectors.zeta"]
    assert (q1, q2) == ("    quarantined: bad-1", "    quarantined: bad-2")
    # the columns line up under the header
    assert zeta.index("vectors.zeta") == header.index("table") == alpha.rindex("-")
    assert zeta.index("1000") + len("1000") == header.index("read") + len("read")


def test_a_long_collection_name_is_cut_to_its_column() -> None:
    _, _, row = format_table([{"collection": "c" * 40, "status": "promoted"}])
    assert row.startswith("c" * 30 + " promoted")


def test_no_rows_is_just_the_header() -> None:
    assert len(format_table([])) == 2


def _summary(name: str, loaded: int = 1200, **extra: object) -> dict[str, object]:
    return {"collection": name, "read": loaded, "loaded": loaded, "quarantined": 0, "load_seconds": loaded / 11000,
            "table": f"vectors.{name}", **extra}


def test_the_run_note_is_a_markdown_table_of_read_loaded_quarantined_load_rate_and_table() -> None:
    note = summary_note([_summary("zeta", 200, quarantined=3, read=203), _summary("alpha")])
    lines = note.splitlines()
    assert lines[0] == "**Migrated** 2 collection(s): 1,400 rows loaded, 3 quarantined."
    assert lines[2:4] == ["| collection | read | loaded | quarantined | load rows/s | table |",
                          "|---|--:|--:|--:|--:|---|"]
    # the load rate is rows over the chunks' load time (11,000 rows/s here), not over the run's wall time
    assert lines[4:] == ["| `alpha` | 1,200 | 1,200 | 0 | 11,000 | `vectors.alpha` |",
                         "| `zeta` | 203 | 200 | 3 | 11,000 | `vectors.zeta` |"]


def test_a_long_run_note_is_cut_by_whole_rows_and_says_how_many_are_left_out() -> None:
    rows = [_summary(f"collection_{i:02d}_" + "x" * 30) for i in range(40)]
    note = summary_note(rows)
    assert len(note) <= 1000
    kept = [line for line in note.splitlines() if line.startswith("| `collection_")]
    assert kept and note.endswith(f"…and {40 - len(kept)} more: see the `summarize` log")
    assert all(line.endswith("` |") for line in kept)


def test_odd_names_cannot_break_the_note_table() -> None:
    row = summary_note([_summary("a|b`c", load_seconds=0)]).splitlines()[-1]
    assert row == "| `a\\|b'c` | 1,200 | 1,200 | 0 | - | `vectors.a\\|b'c` |"
    assert load_rate({"loaded": 10, "load_seconds": None}) is None


def test_the_dry_run_plan_is_a_fixed_width_table_with_its_warnings_after() -> None:
    plan = {"collection": "docs", "rows": 1200, "dimensions": 12, "space": "cosine", "bytes": 98765,
            "vectors": "copy", "reembed_count": 0, "no_document_kept": 0, "no_document_quarantined": 0,
            "index_memory_mb": 3, "build_maintenance_work_mem_mb": 64, "server_maintenance_work_mem": "64MB",
            "warnings": ["index needs more memory"]}
    header, rule, row, empty, warning = format_plan_table(
        [plan, {**plan, "collection": "empty", "rows": 0, "dimensions": None, "warnings": []}])
    assert rule == "-" * len(header)
    assert row.split() == ["docs", "1200", "12", "cosine", "98765", "copy", "0", "0", "0", "3", "64M", "64MB"]
    assert row.index("98765") + len("98765") == header.index("bytes") + len("bytes")
    assert empty.split()[:3] == ["empty", "0", "-"]
    assert warning == "WARNING docs: index needs more memory"
