"""The comparison report: terminal table, SVG chart and self-contained HTML page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from vectorops.compare.measure import Measurement, Options
from vectorops.compare.report import Report, bar_chart, html_report, terminal_table
from vectorops.compare.scoring import WEIGHTS, score


@pytest.fixture()
def report() -> Report:
    fast = Measurement("postgres", connect_ms=5, write_rps=2000, read_rps=40000, filtered_qps=500, p50_ms=1,
                       p95_ms=2, recall_at_10=1.0, load_ops=1000, load_errors=0, load_ops_per_s=100)
    slow = Measurement("chroma", connect_ms=10, write_rps=1000, read_rps=10000, filtered_qps=250, p50_ms=2,
                       p95_ms=4, recall_at_10=0.891, load_ops=1000, load_errors=100, load_ops_per_s=90,
                       error_samples=["timeout <b>&</b>"])
    measurements = [fast, slow]
    return Report("synthetic <1k>", 1000, 8, 50, Options(clients=2, seconds=1.5), measurements,
                  score(measurements), 12.3, notes=["a note & more"])


def test_terminal_table(report: Report) -> None:
    lines = terminal_table(report).splitlines()
    assert lines[0] == "vectorops compare: synthetic <1k>, 50 queries, 2 clients x 1.5 s (12 s in all)"
    assert lines[1].split() == ["metric", "postgres", "chroma"]
    assert set(lines[2]) == {"-"} and len(lines[2]) == len(lines[1])
    rows = {re.split(r"\s{2,}", line.strip())[0]: re.split(r"\s{2,}", line.strip())[1:] for line in lines[3:-1]}
    assert rows["write (records/s)"] == ["2,000", "1,000"]
    assert rows["recall@10"] == ["1.0000", "0.8910"]
    assert rows["load errors / ops (2 clients, 1.5 s)"] == ["0 / 1000", "100 / 1000"]
    assert rows["total (/100)"] == ["100.0", "50.1"]  # 10 + 12.5 + 6.2 + 12.4 + 9
    assert rows["grade"] == ["A+", "F"]
    for category, weight in WEIGHTS.items():
        assert f"score: {category} (/{weight})" in rows
    assert lines[-1] == "note: a note & more"
    assert len({len(line) for line in lines[1:-1]}) == 1  # aligned


def test_bar_chart_is_valid_svg_with_one_bar_per_backend_and_category(report: Report) -> None:
    svg = ET.fromstring(bar_chart(report.scores))
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in svg.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(bars) == 2 * (len(WEIGHTS) + 1)
    titles = {r.find(f"{ns}title").text: float(r.get("width")) for r in bars}  # type: ignore[union-attr]
    assert titles["postgres total: 100.0 of 100"] == 420.0
    assert titles["chroma write: 12.5 of 25"] == 210.0


def test_html_report_is_self_contained_and_escaped(report: Report) -> None:
    page = html_report(report)
    assert not re.search(r"""(src|href)\s*=|<script|@import|url\(""", page)
    assert "synthetic &lt;1k&gt;" in page and "<1k>" not in page
    assert "<li>chroma: timeout &lt;b&gt;&amp;&lt;/b&gt;</li>" in page
    assert "<li>a note &amp; more</li>" in page
    metric_rows = len(terminal_table(report).splitlines()) - 4  # less the title, header, rule and note
    assert "<svg" in page and page.count("<tr>") == metric_rows + 1


def test_as_dict(report: Report) -> None:
    data = report.as_dict()
    assert data["options"] == {"batch": 500, "reads": 50, "clients": 2, "seconds": 1.5, "seed": 0}
    assert data["seconds"] == 12.3 and data["notes"] == ["a note & more"]
    assert data["measurements"][1]["error_rate"] == 0.1
    assert data["scores"][0] == {"backend": "postgres", "points": dict(WEIGHTS), "total": 100.0, "grade": "A+"}
