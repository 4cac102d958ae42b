"""The per-collection summary table (printed by the CLI, logged by the DAG's ``summarize`` task), its Markdown form
for the run note, the dry run's plan table, and CLI run ids."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from vectorops.load.hnsw_params import HNSW_KINDS, HnswParams

CLI_RUN_PREFIX = "cli__"


def cli_run_id() -> str:
    """The ``run_id`` the CLI records its work under: ``cli__<UTC timestamp>``."""
    return f"{CLI_RUN_PREFIX}{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"


def is_cli_run(run_id: str | None) -> bool:
    """Whether ``run_id`` is the CLI's (:func:`cli_run_id`), not an Airflow run's: it has no page in the UI."""
    return bool(run_id) and str(run_id).startswith(CLI_RUN_PREFIX)


def promoted_status(changes_behind: int | None) -> str:
    """``promoted``, or ``promoted, N changes behind`` when the source was written after the read point.

    :param changes_behind: source changes the table does not hold (``None``: not measurable, a server).
    """
    return f"promoted, {changes_behind} changes behind" if changes_behind else "promoted"


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def format_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fixed-width lines: status, rows read / loaded / quarantined, dims, space, rows/s and table per collection.

    :param rows: one mapping per collection with ``collection`` and any of ``status``, ``read``, ``loaded``,
        ``quarantined``, ``dimensions``, ``space``, ``reader``, ``rows_per_s``, ``table``, ``error``,
        ``read_point``, ``warnings`` and ``quarantined_ids`` (both listed under the row); a status
        ``promoted, N changes behind`` is spelled out under the row.
    """
    header = (f"{'collection':30} {'status':11} {'read':>9} {'loaded':>9} {'quarant.':>8} {'dims':>5} {'space':>6} "
              f"{'reader':>12} {'rows/s':>9}  table")
    lines = [header, "-" * len(header)]
    for row in sorted(rows, key=lambda r: r["collection"]):
        rate = f"{row['rows_per_s']:.0f}" if row.get("rows_per_s") else "-"
        status = str(row.get("status") or "")
        short = status.split(",")[0] if status.startswith("promoted,") else status
        lines.append(f"{row['collection'][:30]:30} {_cell(short):11} {_cell(row.get('read')):>9} "
                     f"{_cell(row.get('loaded')):>9} {_cell(row.get('quarantined')):>8} "
                     f"{_cell(row.get('dimensions')):>5} {_cell(row.get('space')):>6} "
                     f"{_cell(row.get('reader')):>12} {rate:>9}  "
                     f"{_cell(row.get('table'))}")
        if short != status:
            lines.append(f"    {status} since read point {_cell(row.get('read_point'))}: `vectorops sync` "
                         "brings it up to date")
        if row.get("error"):
            lines.append(f"    error: {row['error']}")
        lines.extend(f"    warning: {warning}" for warning in row.get("warnings") or [])
        lines.extend(f"    quarantined: {rid}" for rid in row.get("quarantined_ids") or [])
    return lines


def format_plan_table(plans: Sequence[Mapping[str, Any]]) -> list[str]:
    """A dry run's plans as fixed-width lines, one per collection, then one line per warning.

    :param plans: :func:`vectorops.migration.dry_run.dry_run_plan` per collection.
    """
    header = (f"{'collection':30} {'rows':>9} {'dims':>5} {'space':>6} {'bytes':>12} {'vectors':>10} "
              f"{'re-embed':>8} {'no-doc kept':>11} {'no-doc quar.':>12} {'index MB':>8} {'build mwm':>9}  "
              "server maintenance_work_mem")
    lines = [header, "-" * len(header)]
    for p in plans:
        lines.append(f"{p['collection'][:30]:30} {p['rows']:>9} {p['dimensions'] or '-':>5} {p['space']:>6} "
                     f"{p['bytes']:>12} {p['vectors']:>10} {p['reembed_count']:>8} {p['no_document_kept']:>11} "
                     f"{p['no_document_quarantined']:>12} {p['index_memory_mb']:>8} "
                     f"{p['build_maintenance_work_mem_mb']:>8}M  {p['server_maintenance_work_mem']}")
    lines.extend(_index_line(p["collection"], p["index"], p.get("hnsw")) for p in plans if p.get("index"))
    lines.extend(f"WARNING {p['collection']}: {warning}" for p in plans for warning in p.get("warnings") or [])
    return lines


def _index_line(collection: str, index: Mapping[str, Any], hnsw: Mapping[str, Any] | None) -> str:
    lists = f", lists {index['lists']}" if index.get("lists") else ""
    graph = ""
    if hnsw and index["kind"] in HNSW_KINDS:
        graph = f", m {hnsw['m']}, ef_construction {hnsw['ef_construction']}"
        if (hnsw["m"], hnsw["ef_construction"]) != (hnsw["source_m"], hnsw["source_ef_construction"]):
            graph += f" (the source's M {hnsw['source_m']}, construction_ef {hnsw['source_ef_construction']})"
    return (f"INDEX {collection}: {index['kind']}{lists}{graph}, built {index['built']}; searched at {index['knob']} "
            f"{index['default']} until the monitor advises (docs/search-indexes.md)")


def registry_warnings(source_m: int | None, source_ef_construction: int | None, m: int | None,
                      ef_construction: int | None, kind: str | None) -> list[str]:
    """The warning of a promoted table whose HNSW index was built with other settings than its source's, from its
    registry row (``source_hnsw_m``, ``source_hnsw_ef_construction``, ``hnsw_m``, ``hnsw_ef_construction``,
    ``index_kind``); empty when they agree, or for an IVFFlat index or a row from before they were recorded.
    """
    if source_m is None or source_ef_construction is None or m is None or ef_construction is None or (
            kind not in HNSW_KINDS):
        return []
    note = HnswParams(source_m, source_ef_construction, m, ef_construction).note()
    return [note] if note else []


def load_rate(row: Mapping[str, Any]) -> float | None:
    """Rows loaded per second of chunk loading (the COPY work, not the wall time of the run), or ``None``.

    :param row: a collection's summary with ``loaded`` and ``load_seconds``.
    """
    seconds = row.get("load_seconds")
    return float(row.get("loaded") or 0) / seconds if seconds else None


def _md(value: Any) -> str:
    return _cell(value).replace("|", "\\|").replace("`", "'")


def _note_row(row: Mapping[str, Any]) -> str:
    rate = load_rate(row)
    return (f"| `{_md(row['collection'])}` | {row.get('read') or 0:,} | {row.get('loaded') or 0:,} | "
            f"{row.get('quarantined') or 0:,} | {f'{rate:,.0f}' if rate else '-'} | `{_md(row.get('table'))}` |")


def summary_note(rows: Sequence[Mapping[str, Any]], limit: int = 1000) -> str:
    """A migration's result as a Markdown run note: one table row per collection (read, loaded, quarantined, load
    rows/s, table), then the warnings of those rows (an HNSW index built with other settings than its source's),
    cut by whole rows to ``limit`` characters with the number left out named.

    :param rows: the ``summarize`` task's summaries, one per promoted collection.
    :param limit: the note's maximum length (Airflow keeps 1,000 characters).
    """
    ordered = sorted(rows, key=lambda r: r["collection"])
    total = sum(int(r.get("loaded") or 0) for r in ordered)
    quarantined = sum(int(r.get("quarantined") or 0) for r in ordered)
    head = [f"**Migrated** {len(ordered)} collection(s): {total:,} rows loaded, {quarantined:,} quarantined.", "",
            "| collection | read | loaded | quarantined | load rows/s | table |", "|---|--:|--:|--:|--:|---|"]
    body = [_note_row(r) for r in ordered]
    warned = [[f"- **warning** `{_md(r['collection'])}`: {_md(w)}" for w in r.get("warnings") or []] for r in ordered]
    for kept in range(len(body), -1, -1):
        left = len(body) - kept
        tail = [f"…and {left} more: see the `summarize` log"] if left else []
        warnings = [line for lines in warned[:kept] for line in lines]
        note = "\n".join(head + body[:kept] + tail + (["", *warnings] if warnings else []))
        if len(note) <= limit:
            return note
    return note[:limit]
