"""One monitor pass over one table: probes, latency, recall against exact search, filtered recall, and advice on
the search knob of the index's kind (``hnsw.ef_search``, ``ivfflat.probes`` or the re-rank depth)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import psycopg

from vectorops.config import MonitorSettings, Settings
from vectorops.db import runtime
from vectorops.db.connect import connect
from vectorops.monitor import ef_advice, index_builds, metrics_store, probe_queries
from vectorops.monitor.latency import percentiles
from vectorops.monitor.measurement import INDEX, RECALL, SearchMeasurement, find_breaches, rebuild_reason
from vectorops.monitor.metadata_filter import choose_filter
from vectorops.monitor.probe_set import ProbeSet, ensure_probe_set
from vectorops.monitor.target import ProbeTarget, load_target, table_stats
from vectorops.quality.exact_search import exact_top_k

log = logging.getLogger(__name__)

LOCK_TIMEOUT_MS = 5000  # a probe waits at most this long behind a promotion or a rebuild holding the table
TIMED_ROUNDS = 2  # timed passes over the probe set after one warm-up pass: 2 × 50 timings steady the p99


def monitor_table(settings: Settings, collection: str, run_id: str | None) -> SearchMeasurement:
    """Measure one live table and record the result.

    Writes a ``vectorops.search_metrics`` row, the knob's advice into ``vectorops.index_health``, and on a
    recall breach (or when the probe query does not use the index) a rebuild request there too. Alerting is
    the caller's (:func:`vectorops.monitor.alert_breaches`). A measurement beside an index build on the server
    (seen before or after the probes) is recorded with ``during_index_build`` and not judged: no breach, so no
    alert and no rebuild request; ``details.not_judged`` keeps what it would have breached. A collection that was
    empty when migrated is not probed: its row says so (``details.empty``, no probes, no breach), and the caller
    goes on to the next table.

    :param settings: ``settings.monitor`` holds the probe count, seed, ef_search override and thresholds.
    :param collection: a migrated collection.
    :param run_id: the DAG run or CLI run, stored with the row.
    :raises RequestError: when the collection was never migrated or its table is gone, or a setting is unusable.
    """
    started = time.perf_counter()
    config = settings.monitor
    with connect(runtime.start(settings), autocommit=True, application_name="vectorops-monitor",
                    lock_timeout_ms=LOCK_TIMEOUT_MS, statement_timeout_s=config.statement_timeout_s) as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        target = load_target(conn, collection, config.ef_search)
        rows, table_bytes, all_index_bytes = table_stats(conn, target)
        if target.empty:
            m = SearchMeasurement(collection, target.schema, target.table, run_id, row_count=rows,
                                  table_bytes=table_bytes)
            m.details.update(empty=True, all_indexes_bytes=all_index_bytes,
                             reason=f"the collection was empty when migrated ({rows} rows now): no vector "
                                    "dimension recorded, nothing to probe")
            m.seconds = m.details["seconds"] = round(time.perf_counter() - started, 3)
            metrics_store.record_measurement(conn, m)
            log.info("search monitor: %s", m.describe())
            return m
        builds_before = index_builds.index_builds(conn, target.identifier.as_string(conn))
        probes = ensure_probe_set(conn, target, size=config.probes, seed=config.seed, row_count=rows)
        m = SearchMeasurement(collection, target.schema, target.table, run_id, index_name=target.index_name,
                              row_count=rows, table_bytes=table_bytes, index_bytes=target.index_bytes,
                              probes=len(probes), ef_search=target.ef_search, search_knob=target.knob)
        m.details.update({
            "ef_search_from": target.ef_source, "index_valid": target.index_valid if target.index_name else None,
            "index_kind": target.kind, "halfvec_index": target.halfvec, "ivfflat_lists": target.lists,
            "all_indexes_bytes": all_index_bytes, "timed_rounds": TIMED_ROUNDS,
            "probe_set": {"attempt_id": probes.attempt_id, "seed": probes.seed, "regenerated": probes.regenerated,
                          "reason": probes.reason, "created_at": probes.created_at}})
        if not len(probes):
            m.details["reason"] = "the table has no row with a usable vector to probe with"
        elif target.index_name is None:
            _measure_exact_scan(conn, target, probes, m)
        else:
            _measure_index(conn, target, probes, m, config)
        _judge(m, config, index_builds.merge(
            builds_before, index_builds.index_builds(conn, target.identifier.as_string(conn))))
        m.seconds = round(time.perf_counter() - started, 3)
        m.details["seconds"] = m.seconds
        with conn.transaction():
            metrics_store.record_measurement(conn, m)
            if target.index_name is not None and m.advised_ef_search is not None:
                metrics_store.record_advice(conn, m)
            if m.breached & {RECALL, INDEX}:
                metrics_store.request_rebuild(conn, m, rebuild_reason(m, run_id, config.min_recall))
    (log.warning if m.breaches else log.info)("search monitor: %s", m.describe())
    return m


def _judge(m: SearchMeasurement, config: MonitorSettings, builds: list[dict[str, Any]]) -> None:
    """Set the breaches of ``m``; none when an index build ran beside it (what they would have been is kept)."""
    found = find_breaches(m, config)
    if not builds:
        m.breaches = found
        return
    m.during_index_build = True
    m.details.update(index_builds=builds, index_build=index_builds.describe(builds), not_judged=found)
    log.warning("table %s: measured during %s: not judged against the thresholds%s", m.table,
                m.details["index_build"], f" (would have breached: {', '.join(b['kind'] for b in found)})"
                if found else "")


def _measure_exact_scan(conn: psycopg.Connection, target: ProbeTarget, probes: ProbeSet,
                        m: SearchMeasurement) -> None:
    """A table without a vector index: time exact search, which is what its queries get; recall does not apply."""
    timings = []
    exact_top_k(conn, target.schema, target.table, target.space, probes.vectors[0])  # warm-up
    for record_id, vector in zip(probes.record_ids, probes.vectors, strict=True):
        begun = time.perf_counter()
        exact_top_k(conn, target.schema, target.table, target.space, vector, exclude=[record_id])
        timings.append((time.perf_counter() - begun) * 1000.0)
    _set_latency(m, timings)
    m.details["reason"] = ("no vector index on the table: latencies are of exact search; recall and advice do not "
                           "apply")


def _measure_index(conn: psycopg.Connection, target: ProbeTarget, probes: ProbeSet, m: SearchMeasurement,
                   config: MonitorSettings) -> None:
    ids, vectors = probes.record_ids, probes.vectors
    ef = int(target.ef_search or 0)
    m.index_used, m.details["plan"] = probe_queries.explain_ann(conn, target, vectors[0], ef)
    warm = probe_queries.ann_round(conn, target, ids, vectors, ef)
    timed = [probe_queries.ann_round(conn, target, ids, vectors, ef) for _ in range(TIMED_ROUNDS)]
    _set_latency(m, [t for r in timed for t in r.timings_ms])
    if not m.index_used:
        m.details["reason"] = "the probe query does not use the index: recall and advice not measured"
        log.warning("table %s: the probe query does not use %s (plan: %s)", target.qualified, target.index_name,
                    m.details["plan"])
        return
    exact = probe_queries.exact_round(conn, target, ids, vectors)
    m.recall_at_10 = _float(probe_queries.recall(exact, warm.neighbours))

    def recall_at(ef_search: int) -> float:
        found = probe_queries.ann_round(conn, target, ids, vectors, ef_search).neighbours
        return float(probe_queries.recall(exact, found) or 0.0)

    known = {ef: m.recall_at_10} if m.recall_at_10 is not None else {}
    advice = ef_advice.advise_ef_search(recall_at, config.min_recall, known=known,
                                        ladder=ef_advice.knob_ladder(str(target.kind), target.lists),
                                        knob=str(target.knob))
    m.advised_ef_search, m.advised_recall = advice.ef_search, _float(advice.recall)
    m.details["advice"] = advice.describe()
    m.details["knob_ladder"] = {str(k): round(v, 4) for k, v in advice.ladder.items()}
    _measure_filtered(conn, target, probes, m, ef)


def _measure_filtered(conn: psycopg.Connection, target: ProbeTarget, probes: ProbeSet, m: SearchMeasurement,
                      ef: int) -> None:
    """Filtered recall and p95 with the kind's iterative index scan for the table's one metadata filter."""
    chosen = choose_filter(conn, target, probes.seed)
    m.details["filter_sample_rows"] = chosen.sampled
    if chosen.document is None:
        m.details["filter_reason"] = chosen.reason
        log.info("table %s: no filtered-recall probe: %s", target.qualified, chosen.reason)
        return
    ids, vectors = probes.record_ids, probes.vectors
    m.filter = chosen.document
    m.details["filter_selectivity"] = chosen.selectivity
    m.details["filter_index_used"], m.details["filter_plan"] = probe_queries.explain_ann(
        conn, target, vectors[0], ef, chosen.document)
    warm = probe_queries.ann_round(conn, target, ids, vectors, ef, chosen.document)
    timed = [probe_queries.ann_round(conn, target, ids, vectors, ef, chosen.document) for _ in range(TIMED_ROUNDS)]
    m.filtered_p95_ms = percentiles([t for r in timed for t in r.timings_ms]).p95_ms
    exact = probe_queries.exact_round(conn, target, ids, vectors, chosen.document)
    m.filtered_recall_at_10 = _float(probe_queries.recall(exact, warm.neighbours))
    m.details["filtered_short_results"] = sum(1 for e, f in zip(exact, warm.neighbours, strict=True)
                                              if len(f) < len(e))


def _set_latency(m: SearchMeasurement, timings: list[float]) -> None:
    latency = percentiles(timings)
    m.p50_ms, m.p95_ms, m.p99_ms = latency.p50_ms, latency.p95_ms, latency.p99_ms
    m.details["timed_queries"] = latency.samples
    m.details["mean_ms"] = round(float(np.mean(timings)), 3) if timings else None


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)
