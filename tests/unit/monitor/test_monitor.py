"""The search monitor's pure parts: percentiles, recall, ef advice, thresholds and probe-set staleness."""

from __future__ import annotations

import numpy as np
import pytest

from vectorops.config import MonitorSettings
from vectorops.monitor.ef_advice import EF_LADDER, advise_ef_search
from vectorops.monitor.latency import percentiles
from vectorops.monitor.measurement import SearchMeasurement, find_breaches, rebuild_reason
from vectorops.monitor.probe_queries import recall
from vectorops.monitor.probe_set import ProbeSet, stale_reason
from vectorops.monitor.report import format_measurements
from vectorops.monitor.target import ProbeTarget


def test_percentiles_interpolate_and_are_empty_without_timings() -> None:
    latency = percentiles([float(i) for i in range(1, 101)])
    assert (latency.p50_ms, latency.p95_ms, latency.p99_ms, latency.samples) == (50.5, 95.05, 99.01, 100)
    assert percentiles([]).p95_ms is None


def test_recall_counts_neighbours_over_all_probes() -> None:
    assert recall([["a", "b"], ["c", "d"]], [["a", "x"], ["d", "c"]]) == 0.75
    assert recall([["a"], []], [["a"], []]) == 1.0  # a probe whose filter matched nothing does not count
    assert recall([[]], [[]]) is None


def test_the_advice_is_the_smallest_rung_reaching_the_target_and_reuses_known_recalls() -> None:
    asked: list[int] = []

    def recall_at(ef: int) -> float:
        asked.append(ef)
        return min(1.0, ef / 100)

    advice = advise_ef_search(recall_at, 0.6, known={40: 0.5})
    assert (advice.ef_search, advice.recall, advice.reached) == (64, 0.64, True)
    assert asked == [16, 24, 64]
    assert "is 64" in advice.describe()


def test_without_a_rung_reaching_the_target_the_best_one_is_advised_and_a_rebuild_suggested() -> None:
    advice = advise_ef_search(lambda ef: 0.9 if ef >= 400 else 0.5, 0.95)
    assert (advice.ef_search, advice.reached, list(advice.ladder)) == (400, False, list(EF_LADDER))
    assert "rebuild" in advice.describe()


def _measurement(**values: object) -> SearchMeasurement:
    base = {"collection": "c", "table_schema": "s", "table_name": "t", "run_id": "r", "index_name": "t_hnsw",
            "index_used": True, "row_count": 1000, "probes": 50, "ef_search": 40, "p50_ms": 1.0, "p95_ms": 2.0,
            "p99_ms": 3.0, "recall_at_10": 0.99}
    return SearchMeasurement(**{**base, **values})  # type: ignore[arg-type]


def test_thresholds_name_each_breach_and_the_alert_event_picks_the_most_serious() -> None:
    thresholds = MonitorSettings(max_p95_ms=50.0, min_recall=0.95)
    assert find_breaches(_measurement(), thresholds) == []
    both = _measurement(recall_at_10=0.5, p95_ms=80.0, ef_search=1, advised_ef_search=40)
    both.breaches = find_breaches(both, thresholds)
    assert [b["expectation"] for b in both.breaches] == ["recall_at_10 >= 0.95", "p95_ms <= 50.0"]
    assert both.event == "search_recall_breach"
    slow = _measurement(p95_ms=80.0)
    slow.breaches = find_breaches(slow, thresholds)
    assert slow.event == "search_latency_breach" and "above 50.0 ms" in slow.describe()
    reason = rebuild_reason(both, "run-1", 0.95)
    assert "recall@10 was 0.500 at hnsw.ef_search 1 over 50 probes, below the target 0.95" in reason


def test_no_index_means_no_recall_threshold() -> None:
    unindexed = _measurement(index_name=None, index_used=None, recall_at_10=None, ef_search=None)
    assert find_breaches(unindexed, MonitorSettings()) == []


def test_an_empty_collection_is_reported_in_one_line_without_a_breach() -> None:
    empty = SearchMeasurement("empty-docs", "s", "empty_docs", "run-1", details={"empty": True})
    assert empty.empty and not _measurement().empty
    assert find_breaches(empty, MonitorSettings()) == [] and empty.event is None
    assert empty.describe() == "collection 'empty-docs' (s.empty_docs): empty collection, not probed (0 rows)"
    lines = format_measurements([_measurement(), empty])
    assert lines[2].startswith("c ") and lines[2].endswith("  none")
    assert lines[3].startswith("empty-docs ") and lines[3].endswith("  empty collection, not probed")


def _target(attempt: str = "a1", dims: int = 4) -> ProbeTarget:
    return ProbeTarget("c", "s", "t", dims, "l2", attempt, "t_hnsw", True, "hnsw", 1, 40, "registry")


@pytest.mark.parametrize(("target", "size", "seed", "rows", "expected"), [
    (_target(), 3, 0, 100, None),
    (_target(attempt="a2"), 3, 0, 100, "migrated again"),
    (_target(dims=8), 3, 0, 100, "dimension changed"),
    (_target(), 3, 1, 100, "seed changed"),
    (_target(), 5, 0, 100, "number of probes changed"),
    (_target(), 5, 0, 3, None),  # a table of 3 rows cannot give more
])
def test_the_stored_probe_set_is_reused_until_something_it_depends_on_changes(
        target: ProbeTarget, size: int, seed: int, rows: int, expected: str | None) -> None:
    stored = ProbeSet(["x", "y", "z"], np.zeros((3, 4), dtype=np.float32), "a1", 0, None)
    reason = stale_reason(stored, target, size, seed, rows)
    assert (reason is None) if expected is None else (expected in str(reason))
    assert stale_reason(None, target, size, seed, rows) == "no probe set stored yet"


def test_a_measurement_during_an_index_build_names_the_builds_and_what_it_would_have_breached() -> None:
    from vectorops.monitor.index_builds import describe, merge

    seen_by_maint = {"pid": 7, "database": "vectorops", "command": "REINDEX CONCURRENTLY",
                     "phase": "building index", "table_name": "s.t", "index_name": "s.t_hnsw", "on_this_table": True}
    hidden = {"pid": 3, "database": "other", "command": None, "phase": None, "table_name": None, "index_name": None,
              "on_this_table": False}
    builds = merge([hidden | {"phase": "old"}], [seen_by_maint, hidden])
    assert [b["pid"] for b in builds] == [3, 7] and builds[0]["phase"] is None  # each pid once, the latest look
    assert describe(builds) == ("an index build in database other (pid 3), "
                                "REINDEX CONCURRENTLY of s.t_hnsw (pid 7)")
    slow = _measurement(p95_ms=80.0, during_index_build=True)
    slow.details.update(index_build=describe(builds), not_judged=find_breaches(slow, MonitorSettings()))
    assert slow.breaches == [] and slow.event is None
    assert slow.describe().endswith("; measured during an index build in database other (pid 3), REINDEX "
                                    "CONCURRENTLY of s.t_hnsw (pid 7): not judged against the thresholds (it would "
                                    "have breached: p95 latency 80.0 ms is above 50.0 ms)")
    assert format_measurements([slow])[2].endswith("not judged: index build running")


def test_the_advice_and_the_report_name_the_knob_of_the_index_kind() -> None:
    from vectorops.load import index_kinds
    from vectorops.monitor.ef_advice import knob_ladder

    assert knob_ladder("hnsw") == knob_ladder("hnsw_halfvec") == EF_LADDER
    assert knob_ladder("ivfflat", 6) == (1, 2, 4, 6) and knob_ladder("hnsw_bit_rerank") == index_kinds.RERANK_LADDER
    advice = advise_ef_search(lambda p: p / 6, 0.6, ladder=knob_ladder("ivfflat", 6), knob="ivfflat.probes")
    assert (advice.ef_search, advice.knob) == (4, "ivfflat.probes")
    assert advice.describe().startswith("the smallest ivfflat.probes reaching recall@10 0.6 is 4")
    short = advise_ef_search(lambda d: 0.5, 0.95, ladder=(20, 40), knob="re-rank depth")
    assert "no re-rank depth on the ladder reaches recall@10 0.95 (best 0.500 at 20)" in short.describe()
    assert "binary quantisation" in short.describe()
    ivf = _measurement(index_name="t_ivf", ef_search=2, search_knob="ivfflat.probes", recall_at_10=0.5,
                       advised_ef_search=4)
    ivf.breaches = find_breaches(ivf, MonitorSettings(min_recall=0.95))
    assert "recall@10 0.500 at ivfflat.probes 2 is below 0.95" in ivf.describe()
    assert ivf.breaches[0]["observed"]["search_knob"] == "ivfflat.probes"
    header, _, line = format_measurements([ivf])
    assert "knob" in header and "value" in header
    assert line.split()[2:4] == ["ivfflat.probes", "2"] and line.split()[-2:] == ["4", "recall"]


def test_the_target_reads_the_index_kind_from_the_catalog() -> None:
    from vectorops.monitor.target import index_kind

    assert index_kind("ivfflat", False, False, 32) == "ivfflat"
    assert index_kind("hnsw", False, True, 32) == "hnsw_bit_rerank"
    assert index_kind("hnsw", True, False, 32) == "hnsw_halfvec"
    assert index_kind("hnsw", True, False, 3000) == "hnsw"  # HNSW above 2,000 dimensions: on halfvec by necessity
    assert index_kind("hnsw", False, False, 32) == "hnsw"
    bits = ProbeTarget("c", "s", "t", 32, "l2", "a", "t_hnsw", True, "hnsw_bit_rerank", 1, 200, "kind default")
    assert bits.knob == "re-rank depth" and bits.column.bits and not bits.halfvec
    assert _target().knob == "hnsw.ef_search"
