"""An HNSW index built with other settings than the source's is a warning in every summary (issue 26)."""

from __future__ import annotations

from vectorops.migration.summary import format_plan_table, format_table, registry_warnings, summary_note

NOTE = ("HNSW M 64, construction_ef 100 (the source's) built as m 64, ef_construction 128: pgvector needs "
        "ef_construction of at least 2 * m")


def test_the_cli_table_lists_a_rows_warnings_under_it() -> None:
    lines = format_table([{"collection": "m64", "status": "promoted", "warnings": [NOTE]},
                          {"collection": "plain", "status": "promoted", "warnings": []}])
    assert lines[2:] == [lines[2], f"    warning: {NOTE}", lines[4]]
    assert lines[2].startswith("m64 ") and lines[4].startswith("plain ")


def test_the_run_note_lists_the_warnings_after_the_table() -> None:
    rows = [{"collection": "m64", "read": 10, "loaded": 10, "quarantined": 0, "load_seconds": 1.0,
             "table": "vectors.m64", "warnings": [NOTE]},
            {"collection": "plain", "read": 10, "loaded": 10, "quarantined": 0, "load_seconds": 1.0,
             "table": "vectors.plain"}]
    lines = summary_note(rows).splitlines()
    assert lines[-3:] == ["| `plain` | 10 | 10 | 0 | 10 | `vectors.plain` |", "", f"- **warning** `m64`: {NOTE}"]


def test_a_cut_run_note_keeps_the_warnings_of_the_rows_it_keeps() -> None:
    rows = [{"collection": f"c{i:02d}_" + "x" * 40, "read": 1, "loaded": 1, "quarantined": 0, "table": "t",
             "warnings": [NOTE]} for i in range(20)]
    note = summary_note(rows)
    assert len(note) <= 1000
    kept = [line for line in note.splitlines() if line.startswith("| `c")]
    assert kept and note.count("**warning**") == len(kept)
    assert f"…and {20 - len(kept)} more: see the `summarize` log" in note


def test_the_dry_run_index_line_names_the_built_and_the_source_settings() -> None:
    plan = {"collection": "m64", "rows": 10, "dimensions": 4, "space": "l2", "bytes": 1, "vectors": "copy",
            "reembed_count": 0, "no_document_kept": 0, "no_document_quarantined": 0, "index_memory_mb": 1,
            "build_maintenance_work_mem_mb": 64, "server_maintenance_work_mem": "64MB",
            "hnsw": {"m": 64, "ef_construction": 128, "ef_search": 100, "source_m": 64, "source_ef_construction": 100},
            "index": {"kind": "hnsw", "built": "now", "lists": None, "knob": "hnsw.ef_search", "default": 100},
            "warnings": [NOTE]}
    lines = format_plan_table([plan])
    assert lines[3] == ("INDEX m64: hnsw, m 64, ef_construction 128 (the source's M 64, construction_ef 100), "
                        "built now; searched at hnsw.ef_search 100 until the monitor advises "
                        "(docs/search-indexes.md)")
    assert lines[4] == f"WARNING m64: {NOTE}"
    same = {**plan, "hnsw": {**plan["hnsw"], "ef_construction": 100}, "warnings": []}
    assert format_plan_table([same])[3].startswith("INDEX m64: hnsw, m 64, ef_construction 100, built now")
    ivf = {**plan, "index": {**plan["index"], "kind": "ivfflat", "lists": 1}, "warnings": []}
    assert format_plan_table([ivf])[3].startswith("INDEX m64: ivfflat, lists 1, built now")


def test_registry_warnings() -> None:
    assert registry_warnings(64, 100, 64, 128, "hnsw") == [NOTE]
    assert registry_warnings(64, 100, 64, 128, "hnsw_bit_rerank") == [NOTE]
    assert registry_warnings(64, 100, 64, 128, "ivfflat") == []  # no graph is built
    assert registry_warnings(16, 100, 16, 100, "hnsw") == []
    assert registry_warnings(None, None, 16, 100, "hnsw") == []  # a row from before the source was recorded
