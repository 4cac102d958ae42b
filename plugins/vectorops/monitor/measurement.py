"""One monitor measurement of one table, and the thresholds it is judged by."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vectorops.config import MonitorSettings

RECALL = "recall"
LATENCY = "latency"
INDEX = "index"
# the alert's event per kind of breach; one alert per table names the most serious one
EVENTS = {INDEX: "search_index_unused", RECALL: "search_recall_breach", LATENCY: "search_latency_breach"}


@dataclass
class SearchMeasurement:
    """What the monitor measured on one table; one ``vectorops.search_metrics`` row.

    Latencies are client-side (execute + fetch) through the vector index, whatever its kind, at ``ef_search``:
    the value of the kind's knob named by ``search_knob`` (``hnsw.ef_search``, ``ivfflat.probes`` or
    ``re-rank depth``); ``advised_ef_search`` is a value of the same knob. Recall is against exact search, each
    probe's own record left out of both. Without an index, ``ef_search``, the knob and the recalls are ``None``
    (exact scans have nothing to lose) and the latencies are those of the exact scan.

    ``during_index_build``: an index build ran on the server while it measured (``details.index_builds``); such a
    measurement is not judged: ``breaches`` stays empty and what it would have breached is in
    ``details.not_judged``.
    """

    collection: str
    table_schema: str
    table_name: str
    run_id: str | None
    index_name: str | None = None
    index_used: bool | None = None
    row_count: int = 0
    table_bytes: int | None = None
    index_bytes: int | None = None
    probes: int = 0
    ef_search: int | None = None
    search_knob: str | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    recall_at_10: float | None = None
    filter: dict[str, Any] | None = None
    filtered_recall_at_10: float | None = None
    filtered_p95_ms: float | None = None
    advised_ef_search: int | None = None
    advised_recall: float | None = None
    breaches: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    during_index_build: bool = False
    metric_id: int | None = None
    seconds: float = 0.0

    @property
    def table(self) -> str:
        """``schema.table``."""
        return f"{self.table_schema}.{self.table_name}"

    @property
    def breached(self) -> set[str]:
        """The kinds of breach: ``recall``, ``latency``, ``index``."""
        return {b["kind"] for b in self.breaches}

    @property
    def event(self) -> str | None:
        """The alert event for the most serious breach, ``None`` without one."""
        return next((EVENTS[kind] for kind in (INDEX, RECALL, LATENCY) if kind in self.breached), None)

    def row(self) -> dict[str, Any]:
        """The ``search_metrics`` columns (``metric_id`` and ``seconds`` left out)."""
        data = asdict(self)
        data.pop("metric_id")
        data.pop("seconds")
        return data

    @property
    def knob(self) -> str:
        """The knob ``ef_search`` and ``advised_ef_search`` are values of, for sentences."""
        return self.search_knob or "hnsw.ef_search"

    @property
    def empty(self) -> bool:
        """The collection was empty when migrated: reported, not probed."""
        return bool(self.details.get("empty"))

    def describe(self) -> str:
        """One line for logs, alerts and the CLI."""
        if self.empty:
            return (f"collection {self.collection!r} ({self.table}): empty collection, not probed "
                    f"({self.row_count} rows)")
        recall = f"{self.recall_at_10:.3f}" if self.recall_at_10 is not None else "n/a"
        at = f"{self.knob} {self.ef_search}" if self.ef_search is not None else "no index (exact search)"
        head = (f"collection {self.collection!r} ({self.table}): {self.probes} probes at {at}: p95 {self.p95_ms} ms, "
                f"recall@10 {recall}")
        if self.during_index_build:
            skipped = "; ".join(b["message"] for b in self.details.get("not_judged", []))
            return (head + f"; measured during {self.details.get('index_build', 'an index build')}: not judged "
                    "against the thresholds" + (f" (it would have breached: {skipped})" if skipped else ""))
        if not self.breaches:
            return head + ", within thresholds"
        return head + "; " + "; ".join(b["message"] for b in self.breaches)


def find_breaches(measurement: SearchMeasurement, thresholds: MonitorSettings) -> list[dict[str, Any]]:
    """The thresholds ``measurement`` breaches, as ``{"kind", "expectation", "observed", "message"}``.

    :param measurement: the measurement (its ``breaches`` are not read).
    :param thresholds: ``max_p95_ms`` and ``min_recall``.
    """
    found: list[dict[str, Any]] = []
    m = measurement
    if m.index_name is not None and m.index_used is False:
        found.append({"kind": INDEX, "expectation": f"probe queries use the index {m.index_name}",
                      "observed": {"plan": m.details.get("plan"), "index_valid": m.details.get("index_valid")},
                      "message": f"the probe query does not use the index {m.index_name} "
                                 f"(plan: {m.details.get('plan')})"})
    if m.recall_at_10 is not None and m.recall_at_10 < thresholds.min_recall:
        found.append({"kind": RECALL, "expectation": f"recall_at_10 >= {thresholds.min_recall}",
                      "observed": {"recall_at_10": round(m.recall_at_10, 4), "ef_search": m.ef_search,
                                   "search_knob": m.search_knob, "probes": m.probes,
                                   "advised_ef_search": m.advised_ef_search, "advised_recall": m.advised_recall},
                      "message": f"recall@10 {m.recall_at_10:.3f} at {m.knob} {m.ef_search} is below "
                                 f"{thresholds.min_recall}"})
    if m.p95_ms is not None and m.p95_ms > thresholds.max_p95_ms:
        found.append({"kind": LATENCY, "expectation": f"p95_ms <= {thresholds.max_p95_ms}",
                      "observed": {"p50_ms": m.p50_ms, "p95_ms": m.p95_ms, "p99_ms": m.p99_ms,
                                   "ef_search": m.ef_search, "search_knob": m.search_knob, "probes": m.probes,
                                   "rows": m.row_count},
                      "message": f"p95 latency {m.p95_ms} ms is above {thresholds.max_p95_ms} ms"})
    return found


def rebuild_reason(measurement: SearchMeasurement, run_id: str | None, min_recall: float) -> str:
    """The sentence a recall breach leaves in ``index_health.rebuild_reason`` for the maintenance run.

    :param measurement: a measurement with a recall (or index) breach.
    :param run_id: the monitor run.
    :param min_recall: the recall target.
    """
    m = measurement
    parts = []
    if RECALL in m.breached and m.recall_at_10 is not None:
        parts.append(f"recall@10 was {m.recall_at_10:.3f} at {m.knob} {m.ef_search} over {m.probes} probes, "
                     f"below the target {min_recall}")
    if INDEX in m.breached:
        parts.append(f"the probe query did not use the index {m.index_name}")
    advice = m.details.get("advice")
    tail = f"; {advice}" if advice else ""
    return (f"search monitor run {run_id} on {m.row_count} rows: " + " and ".join(parts) + tail)
