"""The monitor's table for the CLI and the task logs."""

from __future__ import annotations

from collections.abc import Sequence

from vectorops.monitor.measurement import SearchMeasurement

# knob: the search knob of the table's index kind; value and adv.: what it was probed at and the advice
HEADER = (f"{'collection':28} {'rows':>9} {'knob':14} {'value':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'recall@10':>9} {'filtered':>8} {'adv.':>5}  breaches")


def _number(value: float | int | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def format_measurements(measurements: Sequence[SearchMeasurement]) -> list[str]:
    """Fixed-width lines: one per table, with the knob its value and advice are of, and breaches by kind.

    :param measurements: the run's measurements.
    """
    lines = [HEADER, "-" * len(HEADER)]
    for m in sorted(measurements, key=lambda item: item.collection):
        breaches = ("empty collection, not probed" if m.empty else "not judged: index build running"
                    if m.during_index_build else ", ".join(sorted(m.breached)) or "none")
        lines.append(f"{m.collection[:28]:28} {m.row_count:>9} {(m.search_knob or '-')[:14]:14} "
                     f"{_number(m.ef_search, 0):>5} {_number(m.p50_ms, 2):>8} {_number(m.p95_ms, 2):>8} "
                     f"{_number(m.p99_ms, 2):>8} {_number(m.recall_at_10, 3):>9} "
                     f"{_number(m.filtered_recall_at_10, 3):>8} {_number(m.advised_ef_search, 0):>5}  {breaches}")
    return lines
