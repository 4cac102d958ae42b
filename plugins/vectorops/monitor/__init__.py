"""The search monitor: latency and recall probes of every live table, for ``pgvector_search_monitor`` and the CLI.

Per table (:func:`monitor_table`): a fixed, seeded probe set sampled from the table (:mod:`.probe_set`) runs
through the table's vector index, whatever its kind (:mod:`vectorops.load.index_kinds`), at the value of that
kind's knob: ``hnsw.ef_search`` (the configured one for hnsw and hnsw_halfvec), ``ivfflat.probes`` or the
re-rank depth (:mod:`.target`, :mod:`.probe_queries`), timed client-side (:mod:`.latency`); recall@10 is measured
against exact search, and filtered recall with the kind's iterative scan for one metadata filter
(:mod:`.metadata_filter`); the smallest value of the knob reaching the recall target is advised
(:mod:`.ef_advice`). Results go to ``vectorops.search_metrics`` and ``vectorops.index_health``
(:mod:`.metrics_store`); breaches are alerted by :func:`alert_breaches`.
"""

from __future__ import annotations

from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.connect import connect
from vectorops.monitor.alerting import alert_breaches
from vectorops.monitor.measurement import SearchMeasurement
from vectorops.monitor.report import format_measurements
from vectorops.monitor.table_monitor import monitor_table
from vectorops.monitor.target import select_live_collections

__all__ = ["SearchMeasurement", "alert_breaches", "format_measurements", "live_collections", "monitor_table"]


def live_collections(settings: Settings) -> list[str]:
    """The migrated collections whose live table exists, sorted.

    :param settings: where the database is.
    """
    with connect(runtime.start(settings), autocommit=True, application_name="vectorops-monitor") as conn:
        return select_live_collections(conn)
