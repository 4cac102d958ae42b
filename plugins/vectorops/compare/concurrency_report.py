"""The concurrency table: per client count and engine the median QPS, p95 and recall@10 at the calibrated ef_search
(which knob that is per engine: the calibration lines), and the ratios (first engine ÷ second) of QPS and p95; as
text lines, Markdown, and an HTML section."""

from __future__ import annotations

import html

from vectorops.compare.concurrency import Concurrency

HEAD = ("clients", "engine", "ef_search", "QPS", "p50 ms", "p95 ms", "p99 ms", "recall@10", "errors", "client CPU %")


def _ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.2g}×"  # two decimals would print 0.00×


def table_rows(result: Concurrency) -> list[list[str]]:
    """One row per client count and engine (medians over the runs)."""
    return [[str(row["clients"]), row["engine"], str(row["setting_value"]),
             f"{row['qps']:,.1f}", f"{row['p50_ms']:.2f}", f"{row['p95_ms']:.2f}", f"{row['p99_ms']:.2f}",
             f"{row['recall_at_10']:.4f}", str(row["errors"]), f"{row['client_cpu_pct']:.0f}"]
            for row in sorted(result.medians(), key=lambda r: (r["clients"], r["engine"]))]


def ratio_rows(result: Concurrency) -> list[list[str]]:
    """One row per client count: the QPS ratio and the p95 ratio."""
    return [[str(r["clients"]), _ratio(r["qps_ratio"]), _ratio(r["p95_ratio"])] for r in result.ratios()]


def _title(result: Concurrency) -> str:
    top, bottom = result.ratio_of
    runs = f"median of {result.runs} runs, " if result.runs > 1 else ""
    return (f"concurrency at recall@10 >= {result.calibrations[0].target if result.calibrations else 0.95} "
            f"({runs}up to {result.seconds:g} s per load, {result.elapsed_s:.0f} s with the calibration); "
            f"ratios are {top} / {bottom}")


def terminal_lines(result: Concurrency) -> list[str]:
    """The table, the ratios and the calibration notes as aligned text."""
    rows = [list(HEAD), *table_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    lines = ["", _title(result)]
    lines += ["  ".join(cell.ljust(w) if i == 1 else cell.rjust(w) for i, (cell, w)
                        in enumerate(zip(row, widths, strict=True))).rstrip() for row in rows]
    lines += ["", "clients  QPS ratio  p95 ratio"]
    lines += [f"{c:>7}  {q:>9}  {p:>9}" for c, q, p in ratio_rows(result)]
    lines += [f"calibrated: {c.describe()}" for c in result.calibrations]
    lines += [f"note: {note}" for note in result.notes]
    return lines


def markdown(result: Concurrency) -> str:
    """The table and the ratios as Markdown."""
    top, bottom = result.ratio_of
    out = [f"| {' | '.join(HEAD)} |", "|" + "---|" * len(HEAD)]
    out += [f"| {' | '.join(row)} |" for row in table_rows(result)]
    out += ["", f"| clients | QPS {top} / {bottom} | p95 {top} / {bottom} |", "|---|---|---|"]
    out += [f"| {' | '.join(row)} |" for row in ratio_rows(result)]
    return "\n".join(out)


def html_section(result: Concurrency) -> str:
    """An HTML section: the table, the ratios, how each engine was calibrated, and notes."""
    top, bottom = result.ratio_of

    def table(head: list[str] | tuple[str, ...], rows: list[list[str]], css: str) -> str:
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f'<table class="{css}"><tr>{cells}</tr>{body}</table>'

    ladder = "".join(
        f"<li>{html.escape(c.describe())}; ladder: "
        + html.escape(", ".join(f"{k}: {v:.3f}" for k, v in c.ladder.items())) + "</li>"
        for c in result.calibrations)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    return (f"<h2>Concurrency</h2><p>{html.escape(_title(result))}.</p>"
            + table(HEAD, table_rows(result), "concurrency")
            + table(["clients", f"QPS {top} / {bottom}", f"p95 {top} / {bottom}"], ratio_rows(result), "ratios")
            + f"<h3>Search effort</h3><ul>{ladder}</ul>" + (f"<ul>{notes}</ul>" if notes else ""))
