"""The HTML of the Vector Health page: the collection table (rows from :mod:`vectorops.web.cells`), the database's
point-in-time recovery (:mod:`vectorops.web.recovery_panel`), the monitor's schedule, the charts, and the empty,
error and sign-in pages.

Contract relied on by the end-to-end tests: each collection is ``<tr data-collection="NAME">`` and its row count
``<td class="rows">N</td>`` (a plain integer). Everything shown is escaped; nothing is loaded from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from vectorops.airflow.dag_schedule import DagSchedule
from vectorops.web.cells import row
from vectorops.web.charts import line_chart
from vectorops.web.recovery_panel import recovery_section

MONITOR_DAG_ID = "pgvector_search_monitor"

EMPTY_MESSAGE = "No collections migrated yet — trigger chroma_to_pgvector"

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1f2933;background:#fff}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.muted{color:#616e7c;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.rows,td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1b7f3b;font-weight:600}.fail{color:#b42318;font-weight:600}.warn{color:#b54708}
.empty,.error{border:1px solid #d2d6dc;border-radius:6px;padding:1rem 1.25rem;max-width:46rem;background:#f8fafc}
.error{border-color:#f0a39a;background:#fff5f4}
.scroll{overflow-x:auto}table.recovery{width:auto}table.recovery th{background:none;width:10rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0}
svg .caption{font-size:12px;font-weight:600;fill:#1f2933}svg .tick,svg .none{font-size:10px;fill:#616e7c}
svg .axes line{stroke:#9aa5b1}svg .line{stroke:#2563eb;stroke-width:1.6;stroke-linecap:round}
svg .threshold{stroke:#d97706}svg .last{fill:#2563eb}svg .threshold-label{font-size:10px;fill:#b54708}
svg .days line{stroke:#e4e7eb}svg .days text{font-size:9px;fill:#9aa5b1}
"""


def collections_page(collections: Sequence[Mapping[str, Any]], series: Mapping[str, Sequence[Mapping[str, Any]]],
                     *, max_p95_ms: float, min_recall: float, days: int, generated_at: datetime,
                     max_lag_s: float | None = None, monitor: DagSchedule | str | None = None,
                     recovery: Mapping[str, Any] | None = None) -> str:
    """The page with one table row per collection, the database's point-in-time recovery and two charts per
    collection.

    :param collections: documents from :func:`vectorops.web.queries.collection_health`.
    :param series: measurements from :func:`vectorops.web.queries.metric_series`.
    :param max_p95_ms: the monitor's latency limit, drawn on the latency charts.
    :param min_recall: the monitor's recall limit, drawn on the recall charts.
    :param days: how far back the charts go.
    :param generated_at: when the page was read from the database.
    :param max_lag_s: the sync lag alert's limit (``VECTOROPS_SYNC_MAX_LAG_S``): a lag above it is flagged.
    :param monitor: the schedule of ``pgvector_search_monitor`` as Airflow has it, or why it is not known.
    :param recovery: from :func:`vectorops.web.recovery_status.recovery_health`; no section without it.
    """
    section = recovery_section(recovery) if recovery is not None else ""
    if not collections:
        body = f'<div class="empty" id="empty-state"><p><strong>{escape(EMPTY_MESSAGE)}</strong></p></div>{section}'
        return _document("Vector Health", body, generated_at)
    rows = "".join(row(c, max_lag_s) for c in collections)
    table = ('<div class="scroll"><table id="collections"><thead><tr><th>Collection</th><th>Table</th>'
             "<th>Rows</th><th>Dims</th><th>Metric</th><th>Index</th><th>Last migration</th><th>Sync</th>"
             "<th>Lag</th><th>Last sync</th><th>Last validation</th>"
             "<th>Last verified backup</th><th>p95 latency</th><th>Recall@10</th></tr></thead>"
             f"<tbody>{rows}</tbody></table></div>")
    start = generated_at - timedelta(days=days)
    charts = "".join(_charts(c["collection"], series.get(c["collection"], []), max_p95_ms, min_recall,
                             (start, generated_at)) for c in collections)
    body = (f"{table}{section}<h2>Search latency and recall, last {days} days</h2>{_monitor(monitor)}"
            f'<p class="muted">From vectorops.search_metrics. Each chart is scaled to its data; dashed: the alert '
            f"limits (p95 {max_p95_ms:g} ms, recall@10 {min_recall:g}), marked at the edge with an arrow when they "
            f"lie off the scale.</p>{charts}")
    return _document("Vector Health", body, generated_at)


def _monitor(schedule: DagSchedule | str | None) -> str:
    """Where the charts' points come from: the monitor DAG, its schedule and its next run."""
    head = f'<p id="monitor-schedule">Measured by <code>{MONITOR_DAG_ID}</code>: '
    if schedule is None or isinstance(schedule, str):
        return head + f'<span class="warn">schedule unknown ({escape(schedule or "not asked")})</span></p>'
    timetable = escape(schedule.description or schedule.summary or "no schedule")
    if schedule.summary and schedule.description and schedule.summary != schedule.description:
        timetable += f' <span class="muted">(<code>{escape(schedule.summary)}</code>)</span>'
    if schedule.paused:
        nxt = '<span class="warn next-run">paused: no run until it is unpaused in Airflow</span>'
    elif schedule.next_run_at is None:
        nxt = '<span class="muted next-run">no run due</span>'
    else:
        nxt = f'<span class="next-run">next run {_stamp(schedule.next_run_at)}</span>'
    return head + f'<span class="timetable">{timetable}</span>; {nxt}</p>'


def _stamp(moment: datetime) -> str:
    return f'<time datetime="{escape(moment.isoformat())}">{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC</time>'


def error_page(host: str, port: str, reason: str) -> str:
    """The page shown (with HTTP 503) when the vectors database cannot be read; never shows a password.

    :param host: the database host.
    :param port: the database port.
    :param reason: the error, already redacted.
    """
    body = ('<div class="error" id="error-state"><p><strong>The vectors database is unavailable.</strong></p>'
            f'<p>Could not read PostgreSQL at <code class="db-host">{escape(host)}</code>:'
            f'<code class="db-port">{escape(port)}</code>.</p>'
            f'<p class="muted">{escape(reason)}</p>'
            "<p>Check that the server is running and that VECTOROPS_DSN (or VECTOROPS_DB_PORT for the embedded "
            "server) points at it, then reload this page.</p></div>")
    return _document("Vector Health: database unavailable", body, None)


def bad_request_page(problem: str) -> str:
    """The page shown (with HTTP 422) for a bad query parameter.

    :param problem: which parameter and why, in one line.
    """
    body = (f'<div class="error" id="request-error"><p><strong>Bad request:</strong> {escape(problem)}</p>'
            '<p><a href="./">Vector Health with the last 7 days</a></p></div>')
    return _document("Vector Health: bad request", body, None)


def sign_in_page(login_url: str | None) -> str:
    """The page shown (with HTTP 401) to a request without a valid Airflow session.

    :param login_url: Airflow's login page, when known.
    """
    link = f' <a href="{escape(login_url)}">Sign in to Airflow</a>.' if login_url else ""
    body = f'<div class="error" id="auth-state"><p><strong>Not authenticated.</strong>{link}</p></div>'
    return _document("Vector Health: sign in", body, None)


def forbidden_page(reason: str) -> str:
    """The page shown (with HTTP 403) to a signed-in user the auth manager does not allow to see Vector Health.

    :param reason: who may not see it and why, in one line.
    """
    body = (f'<div class="error" id="forbidden-state"><p><strong>Not allowed.</strong> {escape(reason)}.</p>'
            "<p>Ask an Airflow admin for a role that may read connections (op or admin).</p></div>")
    return _document("Vector Health: not allowed", body, None)


def _document(title: str, body: str, generated_at: datetime | None) -> str:
    stamp = f'<p class="muted">Read at {escape(generated_at.isoformat(timespec="seconds"))}</p>' if generated_at else ""
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>Vector Health</h1>{stamp}{body}</body></html>")


def _charts(name: str, points: Sequence[Mapping[str, Any]], max_p95_ms: float, min_recall: float,
            window: tuple[datetime, datetime]) -> str:
    p95 = [(p["measured_at"], p["p95_ms"]) for p in points]
    recall = [(p["measured_at"], p["recall_at_10"]) for p in points]
    start, end = window
    return (f'<h3 class="muted">{escape(name)}</h3><div class="charts" data-collection-charts="{escape(name)}">'
            "<figure>" + line_chart(f"{name}: p95 latency (ms)", p95, fmt=_ms, threshold=max_p95_ms, floor=0.0,
                                    css_class="chart p95-chart", unit=" ms", start=start, end=end) + "</figure>"
            "<figure>" + line_chart(f"{name}: recall@10", recall, fmt=lambda v: f"{v:.3f}", threshold=min_recall,
                                    ceiling=1.0, css_class="chart recall-chart", start=start, end=end)
            + "</figure></div>")


def _ms(value: float) -> str:
    """Three significant digits, so a sub-millisecond latency reads as one (``0.412``), a slow one whole."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
