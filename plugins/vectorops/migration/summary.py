"""The per-collection summary table, printed by the CLI and logged by the DAG's ``summarize`` task; CLI run ids."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any


def cli_run_id() -> str:
    """The ``run_id`` the CLI records its work under: ``cli__<UTC timestamp>``."""
    return f"cli__{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"


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
        ``read_point`` and ``quarantined_ids`` (listed under the row); a status ``promoted, N changes behind`` is
        spelled out under the row.
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
        lines.extend(f"    quarantined: {rid}" for rid in row.get("quarantined_ids") or [])
    return lines
