"""The comparison report: a table for the terminal, and a self-contained HTML page with an inline SVG bar chart."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from vectorops.compare.concurrency import Concurrency
from vectorops.compare.measure import Measurement, Options
from vectorops.compare.scoring import WEIGHTS, Score

COLORS = {"chroma": "#e8833a", "postgres": "#336791"}
_METRICS: list[tuple[str, str, str]] = [
    ("connection (median ms)", "connect_ms", "{:.1f}"),
    ("write (records/s)", "write_rps", "{:,.0f}"),
    ("read by id (records/s)", "read_rps", "{:,.0f}"),
    ("filtered queries/s", "filtered_qps", "{:,.1f}"),
    ("query p50 (ms)", "p50_ms", "{:.2f}"),
    ("query p95 (ms)", "p95_ms", "{:.2f}"),
    ("recall@10", "recall_at_10", "{:.4f}"),
    ("load ops/s", "load_ops_per_s", "{:,.1f}"),
]


@dataclass
class Report:
    """One run of ``vectorops compare``."""

    dataset: str
    rows: int
    dimensions: int
    queries: int
    options: Options
    measurements: list[Measurement]
    scores: list[Score]
    seconds: float
    notes: list[str] = field(default_factory=list)
    concurrency: Concurrency | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able report."""
        return {"dataset": self.dataset, "rows": self.rows, "dimensions": self.dimensions, "queries": self.queries,
                "options": self.options.__dict__, "seconds": round(self.seconds, 1), "notes": self.notes,
                "measurements": [m.as_dict() for m in self.measurements],
                "scores": [{"backend": s.backend, "points": s.points, "total": s.total, "grade": s.grade}
                           for s in self.scores],
                "concurrency": self.concurrency.as_dict() if self.concurrency else None}


def _rows(report: Report) -> list[tuple[str, list[str]]]:
    rows = [(label, [fmt.format(getattr(m, attr)) for m in report.measurements]) for label, attr, fmt in _METRICS]
    rows.append((f"load errors / ops ({report.options.clients} clients, {report.options.seconds:g} s)",
                 [f"{m.load_errors} / {m.load_ops}" for m in report.measurements]))
    for category, weight in WEIGHTS.items():
        rows.append((f"score: {category} (/{weight})", [f"{s.points[category]:.1f}" for s in report.scores]))
    rows.append(("total (/100)", [f"{s.total:.1f}" for s in report.scores]))
    rows.append(("grade", [s.grade for s in report.scores]))
    return rows


def terminal_table(report: Report) -> str:
    """The report as aligned text."""
    rows = _rows(report)
    names = [m.backend for m in report.measurements]
    width = max(len(label) for label, _ in rows)
    cell = max(12, *(len(v) for _, values in rows for v in values))
    lines = [f"vectorops compare: {report.dataset}, {report.queries} queries, {report.options.clients} clients x "
             f"{report.options.seconds:g} s ({report.seconds:.0f} s in all)",
             f"{'metric':<{width}}  " + "  ".join(f"{n:>{cell}}" for n in names),
             "-" * (width + (cell + 2) * len(names))]
    lines += [f"{label:<{width}}  " + "  ".join(f"{v:>{cell}}" for v in values) for label, values in rows]
    lines += [f"note: {note}" for note in report.notes]
    if report.concurrency is not None:
        from vectorops.compare.concurrency_report import terminal_lines

        lines += terminal_lines(report.concurrency)
    return "\n".join(lines)


def bar_chart(scores: list[Score]) -> str:
    """Grouped horizontal bars: each category's points as a share of its weight, per backend; then the total."""
    categories = [*WEIGHTS, "total"]
    bar, gap, label_w, plot_w = 14, 12, 150, 420
    group = bar * len(scores) + gap
    height = 40 + group * len(categories) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 90}" height="{height}" '
             f'role="img" aria-label="score by category">',
             '<style>text{font:12px sans-serif;fill:#222}</style>']
    for i, s in enumerate(scores):
        color = COLORS.get(s.backend, "#777")
        parts.append(f'<rect x="{label_w + i * 110}" y="8" width="12" height="12" fill="{color}"/>'
                     f'<text x="{label_w + i * 110 + 16}" y="18">{html.escape(s.backend)} ({s.grade})</text>')
    for tick in (0, 25, 50, 75, 100):
        x = label_w + plot_w * tick / 100
        parts.append(f'<line x1="{x}" y1="30" x2="{x}" y2="{height - 18}" stroke="#ddd"/>'
                     f'<text x="{x - 8}" y="{height - 4}">{tick}%</text>')
    for c, category in enumerate(categories):
        top = 36 + c * group
        weight = 100 if category == "total" else WEIGHTS[category]
        parts.append(f'<text x="4" y="{top + bar * len(scores) / 2 + 4}">{category} (/{weight})</text>')
        for i, s in enumerate(scores):
            value = s.total if category == "total" else s.points[category]
            width = plot_w * max(0.0, min(1.0, value / weight))
            y = top + i * bar
            parts.append(f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{bar - 2}" '
                         f'fill="{COLORS.get(s.backend, "#777")}"><title>{html.escape(s.backend)} {category}: '
                         f'{value:.1f} of {weight}</title></rect>'
                         f'<text x="{label_w + width + 4:.1f}" y="{y + bar - 4}">{value:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_report(report: Report) -> str:
    """A self-contained page: the chart, the table, and how the score is made. No scripts, no external assets."""
    from vectorops.compare import scoring

    names = [m.backend for m in report.measurements]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{html.escape(v)}</td>" for v in values)
                   + "</tr>" for label, values in _rows(report))
    errors = "".join(f"<li>{html.escape(m.backend)}: {html.escape(e)}</li>"
                     for m in report.measurements for e in m.error_samples)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    concurrency = ""
    if report.concurrency is not None:
        from vectorops.compare.concurrency_report import html_section

        concurrency = html_section(report.concurrency)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vectorops compare: {html.escape(report.dataset)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}</style></head>
<body><h1>Chroma vs pgvector</h1>
<p>{html.escape(report.dataset)}; {report.queries} queries; {report.options.clients} concurrent clients for
{report.options.seconds:g} s; {report.seconds:.0f} s in all.</p>
{bar_chart(report.scores)}
<table><tr><th>metric</th>{head}</tr>{body}</table>
{concurrency}
<h2>How the score is made</h2><p>{html.escape(" ".join((scoring.__doc__ or "").replace("``", "").split()))}</p>
{f"<h2>Errors under load</h2><ul>{errors}</ul>" if errors else ""}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""
