"""The concurrency table: medians over runs, the ratios, and their rendering (text, Markdown, HTML)."""

from __future__ import annotations

import re

import pytest

from vectorops.compare.concurrency import Calibration, Concurrency, LoadResult
from vectorops.compare.concurrency_report import html_section, markdown, terminal_lines
from vectorops.compare.dataset import recall_at_10


def _load(engine: str, clients: int, run: int, qps: float, p95: float) -> LoadResult:
    return LoadResult(engine, clients, run, 40, 100, 0, 1.0, qps, p95 / 2, p95, p95 * 2, 0.97)


@pytest.fixture()
def result() -> Concurrency:
    loads = [_load("pgvector", n, run, qps, p95) for run, qps, p95 in ((0, 100, 2), (1, 300, 6), (2, 200, 4))
             for n in (1, 4)]
    loads += [_load("chroma server", n, run, 50 * n, 8) for run in range(3) for n in (1, 4)]
    calibrations = [Calibration("pgvector", "hnsw.ef_search", 40, 0.97, 0.95, True, {16: 0.9, 40: 0.97}),
                    Calibration("chroma server", "configuration.hnsw.ef_search", 1000, 0.93, 0.95, False,
                                {16: 0.8, 1000: 0.93})]
    return Concurrency(calibrations, loads, (1, 4), 3, 5.0, ("pgvector", "chroma server"), ["a <note>"])


def test_medians_and_ratios(result: Concurrency) -> None:
    medians = {(m["engine"], m["clients"]): m for m in result.medians()}
    assert medians[("pgvector", 4)]["qps"] == 200 and medians[("pgvector", 4)]["p95_ms"] == 4
    assert medians[("chroma server", 4)]["qps"] == 200 and medians[("chroma server", 1)]["runs"] == 3
    assert result.ratios() == [{"clients": 1, "qps_ratio": 4.0, "p95_ratio": 0.5},
                               {"clients": 4, "qps_ratio": 1.0, "p95_ratio": 0.5}]
    data = result.as_dict()
    assert len(data["loads"]) == 12 and data["ratio"] == "pgvector / chroma server"
    assert data["calibrations"][1]["ladder"] == {"16": 0.8, "1000": 0.93}


def test_rendering(result: Concurrency) -> None:
    lines = terminal_lines(result)
    assert any(re.match(r"\s+1  pgvector\s+40\s+200\.0\s", line) for line in lines)
    assert "      1      4.00×      0.50×" in lines
    assert any("no configuration.hnsw.ef_search up to 1000 reaches recall@10 0.95" in x for x in lines)
    md = markdown(result).splitlines()
    assert md[0].startswith("| clients | engine | ef_search | QPS |") and "| 4 | 1.00× | 0.50× |" in md
    page = html_section(result)
    assert "a &lt;note&gt;" in page and "<note>" not in page and page.count("<tr>") == 1 + 4 + 1 + 2


def test_recall_at_10() -> None:
    assert recall_at_10([["a", "b"], ["c"]], [["a", "x"], ["c", "d"]]) == 0.5
    assert recall_at_10([], []) == 0.0


def test_a_ratio_far_below_one_keeps_its_precision() -> None:
    """A stalled engine's p95 of 900 ms against 3 ms once rounded to 0.003: the ratio keeps four figures."""
    loads = [_load("pgvector", 1, 0, 300, 3.047), _load("chroma server", 1, 0, 1, 900)]
    result = Concurrency([], loads, (1,), 1, 5.0, ("pgvector", "chroma server"), [])
    ratio = result.ratios()[0]
    assert ratio["p95_ratio"] == pytest.approx(3.047 / 900, rel=1e-3) and ratio["qps_ratio"] == 300
    assert "      1    300.00×    0.0034×" in terminal_lines(result)
