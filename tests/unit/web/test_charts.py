"""Server-rendered SVG line charts: valid SVG, gaps break the line, the scale holds every value and the limit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from vectorops.web.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, Scale, line_chart

NS = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)


def _at(*values: float | None) -> list[tuple[datetime, float | None]]:
    return [(T0 + timedelta(minutes=10 * i), v) for i, v in enumerate(values)]


def _fmt(value: float) -> str:
    return f"{value:.2f} ms"


def _polylines(svg: ET.Element) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in line.get("points", "").split()]  # type: ignore[misc]
            for line in svg.iter(f"{NS}polyline")]


def test_no_measurements() -> None:
    svg = ET.fromstring(line_chart("p95 <latency>", _at(None, float("nan")), fmt=_fmt))
    assert svg.get("aria-label") == "p95 <latency>"
    assert [t.text for t in svg.iter(f"{NS}text")] == ["p95 <latency>", "no measurements yet"]
    assert not _polylines(svg)


def test_a_line_within_the_plot_area() -> None:
    svg = ET.fromstring(line_chart("latency", _at(1.0, 3.0, 2.0), fmt=_fmt, css_class="small"))
    assert svg.get("class") == "small" and svg.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    (line,) = _polylines(svg)
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert xs[0] == LEFT and xs[-1] == WIDTH - RIGHT and xs == sorted(xs)
    assert all(TOP <= y <= HEIGHT - BOTTOM for y in ys)
    assert ys[1] < ys[2] < ys[0]  # larger values are higher up
    last = next(svg.iter(f"{NS}circle"))
    assert last.find(f"{NS}title").text == "03-04 05:26: 2.00 ms"  # type: ignore[union-attr]
    ticks = [t.text for t in svg.iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[2:] == ["03-04 05:06", "03-04 05:26"]


def test_gaps_and_non_finite_values_break_the_line() -> None:
    svg = ET.fromstring(line_chart("x", _at(1.0, 2.0, None, 3.0, float("inf"), 4.0, 5.0), fmt=_fmt))
    lines = _polylines(svg)
    assert [len(line) for line in lines] == [2, 2, 2]
    assert lines[1][0] == lines[1][1]  # a lone point is drawn as a dot


def test_threshold_floor_and_ceiling_stretch_the_axis() -> None:
    svg = ET.fromstring(line_chart("recall", _at(0.9, 0.95), fmt=lambda v: f"{v:.2f}", threshold=0.5, floor=0.0,
                                   ceiling=1.0))
    ticks = [t.text for t in svg.iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[:2] == ["1.00", "0.00"]  # exactly the floor and ceiling, no padding past them
    thresholds = [el for el in svg.iter(f"{NS}line") if el.get("class") == "threshold"]
    assert len(thresholds) == 1
    y = float(thresholds[0].get("y1", "nan"))
    assert y == (TOP + HEIGHT - BOTTOM) / 2  # 0.5 is half-way between 0 and 1
    assert thresholds[0].find(f"{NS}title").text == "limit 0.50"  # type: ignore[union-attr]


def test_a_flat_series_is_padded_not_divided_by_zero() -> None:
    svg = ET.fromstring(line_chart("flat", _at(7.0, 7.0, 7.0), fmt=_fmt))
    (line,) = _polylines(svg)
    assert len({y for _, y in line}) == 1 and TOP < line[0][1] < HEIGHT - BOTTOM


def test_scale_edges() -> None:
    scale = Scale(t0=10, t1=10, y0=5, y1=5)
    assert scale.x(10) == WIDTH - RIGHT  # one instant: at the right edge
    assert scale.y(5) == HEIGHT - BOTTOM - 0.5 * (HEIGHT - TOP - BOTTOM)
    wide = Scale(t0=0, t1=100, y0=0, y1=10)
    assert (wide.x(0), wide.x(100), wide.y(0), wide.y(10)) == (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP)
