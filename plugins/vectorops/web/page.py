"""The HTML of the Vector Health page: the collection table, the charts, the empty, error and sign-in pages.

Contract relied on by the end-to-end tests: each collection is ``<tr data-collection="NAME">`` and its row count
``<td class="rows">N</td>`` (a plain integer). Everything shown is escaped; nothing is loaded from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from vectorops.web.charts import line_chart
from vectorops.web.queries import MIGRATION_DAG_ID

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
.scroll{overflow-x:auto}.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0}
svg .caption{font-size:12px;font-weight:600;fill:#1f2933}svg .tick,svg .none{font-size:10px;fill:#616e7c}
svg .axes line{stroke:#9aa5b1}svg .line{stroke:#2563eb;stroke-width:1.6;stroke-linecap:round}
svg .threshold{stroke:#d97706}svg .last{fill:#2563eb}
"""


def collections_page(collections: Sequence[Mapping[str, Any]], series: Mapping[str, Sequence[Mapping[str, Any]]],
                     *, max_p95_ms: float, min_recall: float, days: int, generated_at: datetime,
                     max_lag_s: float | None = None) -> str:
    """The page with one table row per collection and two charts per collection.

    :param collections: documents from :func:`vectorops.web.queries.collection_health`.
    :param series: measurements from :func:`vectorops.web.queries.metric_series`.
    :param max_p95_ms: the monitor's latency limit, drawn on the latency charts.
    :param min_recall: the monitor's recall limit, drawn on the recall charts.
    :param days: how far back the charts go.
    :param generated_at: when the page was read from the database.
    :param max_lag_s: the sync lag alert's limit (``VECTOROPS_SYNC_MAX_LAG_S``): a lag above it is flagged.
    """
    if not collections:
        body = f'<div class="empty" id="empty-state"><p><strong>{escape(EMPTY_MESSAGE)}</strong></p></div>'
        return _document("Vector Health", body, generated_at)
    rows = "".join(_row(c, max_lag_s) for c in collections)
    table = ('<div class="scroll"><table id="collections"><thead><tr><th>Collection</th><th>Table</th>'
             "<th>Rows</th><th>Dims</th><th>Metric</th><th>Index</th><th>Last migration</th><th>Sync</th>"
             "<th>Lag</th><th>Last sync</th><th>Last validation</th>"
             "<th>Last verified backup</th><th>p95 latency</th><th>Recall@10</th></tr></thead>"
             f"<tbody>{rows}</tbody></table></div>")
    charts = "".join(_charts(c["collection"], series.get(c["collection"], []), max_p95_ms, min_recall)
                     for c in collections)
    body = (f"{table}<h2>Search latency and recall, last {days} days</h2>"
            f'<p class="muted">From vectorops.search_metrics (pgvector_search_monitor). Dashed: the alert limits '
            f"(p95 {max_p95_ms:g} ms, recall@10 {min_recall:g}).</p>{charts}")
    return _document("Vector Health", body, generated_at)


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


def sign_in_page(login_url: str | None) -> str:
    """The page shown (with HTTP 401) to a request without a valid Airflow session.

    :param login_url: Airflow's login page, when known.
    """
    link = f' <a href="{escape(login_url)}">Sign in to Airflow</a>.' if login_url else ""
    body = f'<div class="error" id="auth-state"><p><strong>Not authenticated.</strong>{link}</p></div>'
    return _document("Vector Health: sign in", body, None)


def _document(title: str, body: str, generated_at: datetime | None) -> str:
    stamp = f'<p class="muted">Read at {escape(generated_at.isoformat(timespec="seconds"))}</p>' if generated_at else ""
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>Vector Health</h1>{stamp}{body}</body></html>")


def _row(c: Mapping[str, Any], max_lag_s: float | None) -> str:
    name = escape(c["collection"])
    rows = "" if c["rows"] is None else str(int(c["rows"]))
    table = escape(c["table"]) + ("" if c["table_exists"] else ' <span class="fail">(missing)</span>')
    if c["rows_estimated"]:
        table += ' <span class="muted">(row count estimated)</span>'
    search = c["search"] or {}
    return (f'<tr data-collection="{name}"><td class="collection">{name}</td><td class="table">{table}</td>'
            f'<td class="rows">{rows}</td><td class="num dims">{_text(c["dimensions"])}</td>'
            f'<td class="metric">{_text(c["distance"])}</td><td class="index">{_index(c["index"])}</td>'
            f'<td class="migration">{_migration(c["last_migration"])}</td>'
            f'<td class="sync">{_sync_state(c["sync"])}</td><td class="num lag">{_lag(c["sync"], max_lag_s)}</td>'
            f'<td class="last-sync">{_last_sync(c["sync"].get("last_sync"))}</td>'
            f'<td class="validation">{_validation(c["last_validation"])}</td>'
            f'<td class="backup">{_backup(c["last_backup"])}</td>'
            f'<td class="num p95">{_number(search.get("p95_ms"), " ms", 2)}</td>'
            f'<td class="num recall">{_number(search.get("recall_at_10"), "", 3)}</td></tr>')


def _index(index: Mapping[str, Any]) -> str:
    if not index.get("type"):
        return '<span class="warn">none</span>'
    invalid = "" if index.get("valid") in (True, None) else ' <span class="fail">invalid</span>'
    return (f'<span class="index-type">{escape(str(index["type"]))}</span> '
            f'<span class="index-size">{_size(index.get("bytes"))}</span>{invalid}'
            f'<br><span class="muted">{_text(index.get("name"))}</span>')


def run_path(run_id: str) -> str:
    """The path of a migration run's page in the Airflow UI, relative to the server."""
    return f"/dags/{quote(MIGRATION_DAG_ID, safe='')}/runs/{quote(run_id, safe='')}"


def _migration(m: Mapping[str, Any]) -> str:
    if not m.get("run_id"):
        return _when(m.get("migrated_at"))
    # the page is served by the API server itself: a path link works behind any host and port, and _top
    # leaves the Airflow UI's iframe for the run page rather than nesting the UI inside it
    link = escape(run_path(m["run_id"]))
    speed = _number(m.get("rows_per_s"), " rows/s", 0)
    return (f'<a class="run-link" href="{link}" target="_top">{escape(m["run_id"])}</a><br>'
            f'<span class="muted">{_when(m.get("migrated_at"))}</span><br><span class="rows-per-s">{speed}</span>')


def _sync_state(sync: Mapping[str, Any]) -> str:
    state = str(sync.get("state") or "migrated")
    css = "muted" if state == "migrated" else "pass"
    point = sync.get("read_point")
    since = f'<br><span class="muted">cut over {_when(sync["cut_over_at"])}</span>' if sync.get("cut_over_at") else ""
    return (f'<span class="sync-state {css}">{escape(state)}</span>'
            f'<br><span class="muted read-point">read point {_text(point)}</span>{since}')


def _lag(sync: Mapping[str, Any], max_lag_s: float | None) -> str:
    records, seconds = sync.get("lag_records"), sync.get("lag_seconds")
    if records is None:
        return '<span class="muted">unknown</span>'
    over = " fail" if max_lag_s is not None and seconds is not None and seconds > max_lag_s else ""
    checked = f'<br><span class="muted">{_when(sync["lag_checked_at"])}</span>' if sync.get("lag_checked_at") else ""
    return (f'<span class="lag-records">{int(records):,} record(s)</span><br>'
            f'<span class="lag-seconds{over}">{_number(seconds, " s", 1)}</span>{checked}')


def _last_sync(last: Mapping[str, Any] | None) -> str:
    if not last:
        return '<span class="muted">never</span>'
    status = str(last["status"])
    css = {"done": "pass", "failed": "fail"}.get(status, "warn")
    counts = (f'<span class="sync-counts">added {last["added"]}, updated {last["updated"]}, deleted {last["deleted"]}, '
              f'quarantined {last["quarantined"]}</span>')
    error = f'<br><span class="muted">{escape(str(last["error"]))}</span>' if last.get("error") else ""
    kind = "" if last.get("kind") == "sync" else f" {escape(str(last.get('kind')))}"
    return (f'<span class="sync-status {css}">{escape(status)}</span>{kind}<br>{counts}'
            f'<br><span class="muted">{_when(last.get("finished_at") or last.get("started_at"))}</span>{error}')


def _validation(v: Mapping[str, Any] | None) -> str:
    if not v:
        return '<span class="muted">never</span>'
    when = f'<br><span class="muted">{escape(v["stage"] or "")} {_when(v["validated_at"])}</span>'
    if v["success"]:
        return f'<span class="pass">pass</span>{when}'
    failed = "".join(f'<li class="failed-expectation">{escape(name)}</li>' for name in v["failed_expectations"])
    return f'<span class="fail">fail</span>{when}<ul>{failed}</ul>'


def _backup(b: Mapping[str, Any] | None) -> str:
    if not b:
        return '<span class="warn">none verified</span>'
    return f'{_when(b["verified_at"])}<br><span class="muted">{escape(b["backup_id"])}</span>'


def _charts(name: str, points: Sequence[Mapping[str, Any]], max_p95_ms: float, min_recall: float) -> str:
    p95 = [(p["measured_at"], p["p95_ms"]) for p in points]
    recall = [(p["measured_at"], p["recall_at_10"]) for p in points]
    return (f'<h3 class="muted">{escape(name)}</h3><div class="charts" data-collection-charts="{escape(name)}">'
            "<figure>" + line_chart(f"{name}: p95 latency (ms)", p95, fmt=lambda v: f"{v:.1f}", threshold=max_p95_ms,
                                    floor=0.0, css_class="chart p95-chart") + "</figure>"
            "<figure>" + line_chart(f"{name}: recall@10", recall, fmt=lambda v: f"{v:.3f}", threshold=min_recall,
                                    ceiling=1.0, css_class="chart recall-chart") + "</figure></div>")


def _text(value: Any) -> str:
    return '<span class="muted">—</span>' if value is None else escape(str(value))


def _when(iso: str | None) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC``, the exact value in its tooltip."""
    if not iso:
        return _text(None)
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return f'<time datetime="{escape(iso)}" title="{escape(iso)}">{moment:%Y-%m-%d %H:%M} UTC</time>'


def _number(value: float | None, unit: str, digits: int) -> str:
    return '<span class="muted">—</span>' if value is None else f"{value:,.{digits}f}{escape(unit)}"


def _size(n: int | None) -> str:
    if n is None:
        return ""
    size, unit = float(n), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
