"""The per-collection summary table and the CLI's run ids."""

from __future__ import annotations

import re
import time

from vectorops.migration.summary import cli_run_id, format_table


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
