"""The cells of one collection's row on the Vector Health page: table, index, last migration (its run link, load
rate and end-to-end time), live sync and lag, validation, backup and the newest search measurement.

Contract relied on by the end-to-end tests: the row is ``<tr data-collection="NAME">`` and its row count
``<td class="rows">N</td>`` (a plain integer). Everything shown is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from vectorops.migration.summary import is_cli_run
from vectorops.web.queries import MIGRATION_DAG_ID

BACKUP_DAG_ID = "pgvector_backup"


def row(c: Mapping[str, Any], max_lag_s: float | None) -> str:
    """The ``<tr>`` of one collection.

    :param c: a document from :func:`vectorops.web.queries.collection_health`.
    :param max_lag_s: the sync lag alert's limit: a lag above it is flagged.
    """
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
        return when(m.get("migrated_at"))
    # Airflow 3.3 frames the page with sandbox="allow-scripts allow-same-origin allow-forms allow-downloads": no
    # allow-top-navigation and no allow-popups, so target=_top and target=_blank links do nothing there. The link
    # navigates the frame (Airflow mirrors the frame's path into the address bar); opened directly, the window.
    run = escape(m["run_id"])
    if not is_cli_run(m["run_id"]):  # a `vectorops migrate` run has no page in the Airflow UI
        run = f'<a class="run-link" href="{escape(run_path(m["run_id"]))}">{run}</a>'
    return (f'{run}<br>'
            f'<span class="muted">{when(m.get("migrated_at"))}</span><br>{_migration_figures(m)}')


def _migration_figures(m: Mapping[str, Any]) -> str:
    """The load rate and the end-to-end time, apart: a small collection's end-to-end time is mostly the gate."""
    load_rate, end_to_end = m.get("load_rows_per_s"), m.get("end_to_end_seconds")
    if load_rate is None and end_to_end is None:  # an attempt the ledger no longer holds: the registry's figure
        return f'<span class="rows-per-s">{_number(m.get("rows_per_s"), " rows/s", 0)}</span>'
    parts = [f"{name} {duration(m[key])}" for name, key in (("load", "load_seconds"), ("gate", "validate_seconds"),
                                                              ("index", "index_seconds")) if m.get(key) is not None]
    return (f'<span class="load-rate">load {_number(load_rate, " rows/s", 0)}</span><br>'
            f'<span class="end-to-end">end to end {duration(end_to_end) if end_to_end is not None else "—"}</span>'
            + (f'<br><span class="muted time-split">{escape(", ".join(parts))}</span>' if parts else ""))


def duration(seconds: float) -> str:
    """``0.042 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``.

    :param seconds: a duration in seconds.
    """
    if seconds < 1:
        return f"{seconds:.3f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _sync_state(sync: Mapping[str, Any]) -> str:
    state = str(sync.get("state") or "migrated")
    css = "muted" if state == "migrated" else "pass"
    point = sync.get("read_point")
    since = f'<br><span class="muted">cut over {when(sync["cut_over_at"])}</span>' if sync.get("cut_over_at") else ""
    return (f'<span class="sync-state {css}">{escape(state)}</span>'
            f'<br><span class="muted read-point">read point {_text(point)}</span>{since}')


def _lag(sync: Mapping[str, Any], max_lag_s: float | None) -> str:
    records, seconds = sync.get("lag_records"), sync.get("lag_seconds")
    if records is None:
        return '<span class="muted">unknown</span>'
    over = " fail" if max_lag_s is not None and seconds is not None and seconds > max_lag_s else ""
    checked = f'<br><span class="muted">{when(sync["lag_checked_at"])}</span>' if sync.get("lag_checked_at") else ""
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
            f'<br><span class="muted">{when(last.get("finished_at") or last.get("started_at"))}</span>{error}')


def _validation(v: Mapping[str, Any] | None) -> str:
    if not v:
        return '<span class="muted">never</span>'
    stamp = f'<br><span class="muted">{escape(v["stage"] or "")} {when(v["validated_at"])}</span>'
    if v["success"]:
        return f'<span class="pass">pass</span>{stamp}'
    failed = "".join(f'<li class="failed-expectation">{escape(name)}</li>' for name in v["failed_expectations"])
    return f'<span class="fail">fail</span>{stamp}<ul>{failed}</ul>'


def _backup(b: Mapping[str, Any] | None) -> str:
    if not b:
        return (f'<span class="warn no-backup">no verified backup yet: run <code>{BACKUP_DAG_ID}</code></span>')
    return f'{when(b["verified_at"])}<br><span class="muted">{escape(b["backup_id"])}</span>'


def _text(value: Any) -> str:
    return '<span class="muted">—</span>' if value is None else escape(str(value))


def when(iso: str | None) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC``, the exact value in its tooltip.

    :param iso: a time from a page document (:func:`vectorops.web.queries.iso`); none shows as a dash.
    """
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
