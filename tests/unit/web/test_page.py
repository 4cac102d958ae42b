"""The Vector Health page: the monitor's schedule as Airflow has it, and charts spanning the requested days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vectorops.airflow.dag_schedule import DagSchedule
from vectorops.web.page import collections_page

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
DOCS = {"collection": "docs", "table": "vectors.docs", "rows": 10, "rows_estimated": False, "table_exists": True,
        "dimensions": 8, "distance": "cosine", "embedding_model": None,
        "index": {"name": "ix", "type": "hnsw", "bytes": 4096, "valid": True},
        "last_migration": {"run_id": None, "migrated_at": None}, "last_validation": None, "last_backup": None,
        "search": None, "sync": {"state": "migrated", "lag_records": None}}


def _page(monitor: DagSchedule | str | None, series: dict[str, Any] | None = None) -> str:
    return collections_page([DOCS], series or {}, max_p95_ms=54.0, min_recall=0.9, days=7, generated_at=NOW,
                            monitor=monitor)


def _schedule_line(html: str) -> str:
    return html.split('<p id="monitor-schedule">', 1)[1].split("</p>", 1)[0]


def test_the_monitor_schedule_and_next_run() -> None:
    line = _schedule_line(_page(DagSchedule("pgvector_search_monitor", "*/15 * * * *", "Every 15 minutes", False,
                                            datetime(2026, 3, 8, 12, 15, tzinfo=UTC))))
    assert line == ('Measured by <code>pgvector_search_monitor</code>: <span class="timetable">Every 15 minutes '
                    '<span class="muted">(<code>*/15 * * * *</code>)</span></span>; <span class="next-run">next run '
                    '<time datetime="2026-03-08T12:15:00+00:00">2026-03-08 12:15 UTC</time></span>')


def test_a_paused_or_unknown_monitor_says_so() -> None:
    paused = _schedule_line(_page(DagSchedule("pgvector_search_monitor", "*/15 * * * *", None, True, None)))
    assert '<span class="timetable">*/15 * * * *</span>' in paused
    assert '<span class="warn next-run">paused: no run until it is unpaused in Airflow</span>' in paused
    unknown = _schedule_line(_page("Airflow has not parsed it yet"))
    assert '<span class="warn">schedule unknown (Airflow has not parsed it yet)</span>' in unknown


def test_charts_span_the_requested_days() -> None:
    points = [{"measured_at": NOW - timedelta(days=6, hours=23 - i), "p95_ms": 0.4, "recall_at_10": 0.99}
              for i in range(3)]
    html = _page(None, {"docs": points})
    charts = html.split('data-collection-charts="docs"', 1)[1]
    assert charts.count('<g class="days">') == 2 and charts.count(">03-07</text>") == 2
    assert "limit 54 ms ↑" in charts and "limit 0.900 ↓" in charts
    assert charts.count(">03-01 12:00</text>") == 2 and charts.count(">03-08 12:00</text>") == 2
