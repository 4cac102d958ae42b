"""Maintenance decisions, from table states alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from vectorops.config import MaintenanceSettings
from vectorops.maintenance.catalog import IndexState, TableState
from vectorops.maintenance.planner import plan_table

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
HNSW = IndexState("t_hnsw", "hnsw", True, 1 << 20, {"m": "16", "ef_construction": "64"})
PKEY = IndexState("t_pkey", "btree", True, 1 << 16, {})
SETTINGS = MaintenanceSettings()
STATE = TableState(collection="c", schema="s", table="t", exists=True, dimensions=384, index_name="t_hnsw",
                   hnsw_m=16, live_rows=100_000, changes=100_000, last_analyzed=NOW - timedelta(hours=1),
                   built_rows=100_000, built_changes=100_000, built_dead_rows=0, indexes=[PKEY, HNSW])


def kinds(state: TableState, **settings: float) -> list[tuple[str, str | None]]:
    table_plan = plan_table(state, replace(SETTINGS, **settings), mem_cap_mb=4096, now=NOW)
    return [(a.kind, a.index) for a in table_plan.actions]


def test_a_healthy_table_needs_nothing() -> None:
    assert kinds(STATE) == []


def test_leftovers_are_dropped_and_other_invalid_indexes_rebuilt() -> None:
    state = replace(STATE, indexes=[PKEY, HNSW, IndexState("t_hnsw_ccnew", "hnsw", False, 0, {}),
                                    IndexState("t_hnsw_ccold1", "hnsw", False, 0, {}),
                                    IndexState("t_meta_idx", "btree", False, 0, {})])
    assert kinds(state) == [("drop_index", "t_hnsw_ccnew"), ("drop_index", "t_hnsw_ccold1"),
                            ("reindex", "t_meta_idx")]


def test_an_invalid_duplicate_of_a_valid_index_is_dropped_not_rebuilt_into_a_second_copy() -> None:
    cancelled = IndexState("t_embedding_idx", "hnsw", False, 0, {"m": "16"}, duplicate_of="t_hnsw")
    state = replace(STATE, indexes=[PKEY, HNSW, cancelled, IndexState("t_meta_idx", "btree", False, 0, {})])
    table_plan = plan_table(state, SETTINGS, mem_cap_mb=4096, now=NOW)
    assert [(a.kind, a.index) for a in table_plan.actions] == [("drop_index", "t_embedding_idx"),
                                                                ("reindex", "t_meta_idx")]
    assert "invalid duplicate of the valid index t_hnsw" in table_plan.actions[0].reason
    # the registry's own index is the one vectorops tracks: invalid, it is rebuilt even beside a valid twin
    own = replace(STATE, indexes=[PKEY, replace(HNSW, valid=False, duplicate_of="t_copy"),
                                  IndexState("t_copy", "hnsw", True, 1 << 20, {"m": "16"})])
    assert kinds(own) == [("reindex", "t_hnsw")]


def test_nothing_is_touched_while_a_build_runs_on_the_table() -> None:
    state = replace(STATE, dead_rows=50_000, indexes=[PKEY, replace(HNSW, building_pid=42),
                                                      IndexState("t_hnsw_ccnew", "hnsw", False, 0, {}, 42)])
    table_plan = plan_table(state, SETTINGS, mem_cap_mb=4096, now=NOW)
    assert [a.kind for a in table_plan.actions] == ["vacuum_analyze"]
    assert "pid 42" in table_plan.notes[0]


def test_vacuum_needs_both_the_dead_tuple_count_and_ratio() -> None:
    assert kinds(replace(STATE, dead_rows=9_000)) == []  # 8% < 10%
    assert kinds(replace(STATE, live_rows=5_000, dead_rows=900, built_rows=5_000, changes=5_000,
                         built_changes=5_000)) == []  # 15%, but fewer than 1,000 dead tuples
    # a VACUUM on an HNSW table is preceded by a rebuild (pgvector's advice)
    assert kinds(replace(STATE, dead_rows=12_000)) == [("reindex", "t_hnsw"), ("vacuum_analyze", None)]


def test_rebuild_reasons_monitor_growth_and_churn() -> None:
    flagged = plan_table(replace(STATE, rebuild_reason="recall@10 0.80 < 0.95"), SETTINGS, mem_cap_mb=4096, now=NOW)
    assert flagged.actions[0].reason.startswith("the search monitor asked for a rebuild: recall@10 0.80")
    grown = plan_table(replace(STATE, live_rows=125_000, changes=125_000), SETTINGS, mem_cap_mb=4096, now=NOW)
    assert "built on 100,000 rows and the table now has 125,000 (+25%" in grown.actions[0].reason
    churned = plan_table(replace(STATE, changes=125_000), SETTINGS, mem_cap_mb=4096, now=NOW)
    assert churned.actions[0].reason.startswith("25,000 rows inserted, updated or deleted since")
    assert kinds(replace(STATE, changes=115_000)) == []


def test_a_recall_drop_that_ef_search_fixes_is_not_rebuilt() -> None:
    flagged = replace(STATE, rebuild_reason="recall@10 0.90 < 0.95 at ef_search 40", advised_ef_search=64,
                      advised_recall=0.97)
    table_plan = plan_table(flagged, SETTINGS, mem_cap_mb=4096, min_recall=0.95, now=NOW)
    assert table_plan.actions == []
    assert "ef_search 64 reaches recall@10 0.970" in table_plan.notes[0]
    assert kinds(replace(flagged, advised_recall=0.91)) == [("reindex", "t_hnsw")]  # no ef_search reaches it


def test_the_first_look_after_a_build_takes_the_baseline_and_rebuilds_nothing_for_old_dead_tuples() -> None:
    # a migration whose chunk was retried: 30,000 rolled-back inserts counted as changes and dead tuples
    fresh = replace(STATE, changes=130_000, dead_rows=30_000, built_changes=None, built_dead_rows=None)
    table_plan = plan_table(fresh, SETTINGS, mem_cap_mb=4096, now=NOW)
    assert [a.kind for a in table_plan.actions] == ["vacuum_analyze"]  # the index never held those tuples
    assert table_plan.reset_baseline and "first look" in table_plan.info[0]
    assert table_plan.notes == []  # routine on a healthy table: logged at INFO, not as a warning
    # once the baseline is taken, only tuples that die afterwards call for REINDEX before VACUUM
    later = replace(fresh, built_changes=130_000, built_dead_rows=30_000)
    assert kinds(later) == [("vacuum_analyze", None)]
    assert kinds(replace(later, dead_rows=45_000, changes=145_000)) == [("reindex", "t_hnsw"),
                                                                       ("vacuum_analyze", None)]


def test_only_the_vector_index_rebuild_resets_its_baseline() -> None:
    state = replace(STATE, indexes=[PKEY, HNSW, IndexState("t_meta_idx", "btree", False, 0, {})])
    (action,) = plan_table(state, SETTINGS, mem_cap_mb=4096, now=NOW).actions
    assert action.index == "t_meta_idx" and not action.vector_index
    (rebuild,) = plan_table(replace(STATE, rebuild_reason="x"), SETTINGS, mem_cap_mb=4096, now=NOW).actions
    assert rebuild.vector_index


def test_rebuild_memory_is_sized_from_the_graph_and_capped() -> None:
    (action,) = plan_table(replace(STATE, rebuild_reason="x"), SETTINGS, mem_cap_mb=100, now=NOW).actions
    assert action.estimated_graph_mb and action.estimated_graph_mb > 100
    assert action.maintenance_work_mem_mb == 100


def test_a_statistics_reset_restarts_churn_instead_of_rebuilding() -> None:
    table_plan = plan_table(replace(STATE, changes=10), SETTINGS, mem_cap_mb=4096, now=NOW)
    assert table_plan.actions == [] and table_plan.reset_baseline


def test_analyze_when_statistics_are_missing_or_stale() -> None:
    assert kinds(replace(STATE, last_analyzed=None)) == [("analyze", None)]
    assert kinds(replace(STATE, mod_since_analyze=10_000)) == [("analyze", None)]
    old = replace(STATE, last_analyzed=NOW - timedelta(hours=30))
    assert kinds(old) == []  # stale, but nothing changed since
    assert kinds(replace(old, mod_since_analyze=10)) == [("analyze", None)]


def test_a_missing_table_is_reported_not_touched() -> None:
    table_plan = plan_table(TableState(collection="c", schema="s", table="t", exists=False), SETTINGS,
                            mem_cap_mb=4096, now=NOW)
    assert table_plan.actions == [] and "does not exist" in table_plan.notes[0]


IVF = IndexState("t_ivf", "ivfflat", True, 1 << 20, {"lists": "100"})
IVF_STATE = replace(STATE, index_name="t_ivf", indexes=[PKEY, IVF])


def test_an_ivfflat_index_is_maintained_like_an_hnsw_one() -> None:
    assert kinds(IVF_STATE) == []  # 100,000 rows call for 100 lists
    assert kinds(replace(IVF_STATE, dead_rows=12_000)) == [("reindex", "t_ivf"), ("vacuum_analyze", None)]
    grown = plan_table(replace(IVF_STATE, live_rows=125_000, changes=125_000), SETTINGS, mem_cap_mb=4096, now=NOW)
    (rebuild,) = grown.actions
    assert "the IVFFlat index was built on 100,000 rows" in rebuild.reason and rebuild.lists is None
    assert rebuild.maintenance_work_mem_mb == 64 and rebuild.estimated_graph_mb is None and rebuild.vector_index


def test_ivfflat_lists_far_from_what_the_rows_call_for_are_rebuilt_by_the_owner_and_advised_otherwise() -> None:
    few = replace(IVF_STATE, indexes=[PKEY, replace(IVF, options={"lists": "40"})])
    (rebuild,) = plan_table(few, SETTINGS, mem_cap_mb=4096, now=NOW).actions
    assert (rebuild.kind, rebuild.index, rebuild.lists) == ("reindex", "t_ivf", 100)
    assert rebuild.reason == ("the IVFFlat index has 40 lists and the table's 100,000 rows call for 100 (more than "
                              "2x off): rebuilt with lists = 100")
    assert kinds(replace(IVF_STATE, indexes=[PKEY, replace(IVF, options={"lists": "50"})])) == []  # 2x: within
    assert kinds(replace(IVF_STATE, indexes=[PKEY, replace(IVF, options={})])) == []  # pgvector's default: 100
    foreign = plan_table(replace(few, indexes=[PKEY, replace(IVF, options={"lists": "40"}, owned=False)]),
                         SETTINGS, mem_cap_mb=4096, now=NOW)
    assert foreign.actions == [] and "a rebuild with lists = 100 is advised, not planned" in foreign.notes[0]
    # with another reason to rebuild, the owner's rebuild also takes the new lists
    (both,) = plan_table(replace(few, rebuild_reason="recall@10 0.5"), SETTINGS, mem_cap_mb=4096, now=NOW).actions
    assert both.lists == 100 and both.reason.startswith("the search monitor asked for a rebuild: recall@10 0.5; ")


def test_a_recall_drop_that_probes_fix_names_the_knob() -> None:
    flagged = replace(IVF_STATE, rebuild_reason="recall@10 0.90", advised_ef_search=8, advised_recall=0.97,
                      search_knob="ivfflat.probes")
    table_plan = plan_table(flagged, SETTINGS, mem_cap_mb=4096, min_recall=0.95, now=NOW)
    assert table_plan.actions == [] and "ivfflat.probes 8 reaches recall@10 0.970" in table_plan.notes[0]
    assert "raise ivfflat.probes" in table_plan.notes[0]


def test_bit_and_halfvec_hnsw_indexes_are_hnsw_indexes_sized_for_what_they_hold() -> None:
    bits = replace(HNSW, expression="(binary_quantize(embedding))::bit(384)")
    half = replace(HNSW, expression="(embedding)::halfvec(384)")
    assert bits.bits and bits.vector and not half.bits and half.vector and bits.lists is None
    (bit_rebuild,) = plan_table(replace(STATE, rebuild_reason="x", indexes=[PKEY, bits]), SETTINGS, mem_cap_mb=4096,
                                now=NOW).actions
    (half_rebuild,) = plan_table(replace(STATE, rebuild_reason="x", indexes=[PKEY, half]), SETTINGS,
                                 mem_cap_mb=4096, now=NOW).actions
    assert bit_rebuild.vector_index and half_rebuild.vector_index
    assert (bit_rebuild.estimated_graph_mb or 0) < (half_rebuild.estimated_graph_mb or 0)


def test_bits_that_no_re_rank_depth_saves_are_not_rebuilt_over_and_over() -> None:
    bits = replace(HNSW, expression="(binary_quantize(embedding))::bit(384)")
    flagged = replace(STATE, indexes=[PKEY, bits], rebuild_reason="recall@10 0.06", advised_ef_search=1000,
                      advised_recall=0.066, search_knob="re-rank depth")
    table_plan = plan_table(flagged, SETTINGS, mem_cap_mb=4096, min_recall=0.95, now=NOW)
    assert table_plan.actions == []
    assert "no re-rank depth reaches recall@10 0.95" in table_plan.notes[0]
    assert "--index hnsw_halfvec or hnsw" in table_plan.notes[0]
    # an HNSW index whose ef_search ladder fell short is still rebuilt
    assert kinds(replace(STATE, rebuild_reason="recall@10 0.5", advised_ef_search=1000, advised_recall=0.6,
                         search_knob="hnsw.ef_search")) == [("reindex", "t_hnsw")]
