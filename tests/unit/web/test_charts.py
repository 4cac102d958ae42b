"""Server-rendered SVG line charts: valid SVG, gaps break the line, the scale holds every value and the limit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise

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


def _limit(svg: ET.Element) -> tuple[ET.Element, str]:
    (line,) = [el for el in svg.iter(f"{NS}line") if "threshold" in (el.get("class") or "").split()]
    (label,) = [t.text or "" for t in svg.iter(f"{NS}text") if t.get("class") == "threshold-label"]
    return line, label


def test_sub_millisecond_latencies_fill_the_plot_and_a_far_limit_is_marked_at_the_top() -> None:
    svg = ET.fromstring(line_chart("p95", _at(0.31, 0.52, 0.44), fmt=lambda v: f"{v:.3g}", threshold=54.0,
                                   floor=0.0, unit=" ms"))
    (line,) = _polylines(svg)
    ys = [y for _, y in line]
    plot = HEIGHT - BOTTOM - TOP
    assert max(ys) - min(ys) > plot * 0.3  # 0.31 to 0.52 ms spans a third of the plot, not a pixel on the axis
    assert min(ys) - TOP < plot * 0.1  # the highest point is near the top: the axis ends just above the data
    ticks = [t.text for t in svg.iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[:2] == ["0.562", "0"]  # 0.52 + 8 % padding, down to the floor
    limit, label = _limit(svg)
    assert limit.get("class") == "threshold off-scale" and float(limit.get("y1", "nan")) == TOP
    assert label == "limit 54 ms ↑"
    assert limit.find(f"{NS}title").text == "limit 54 ms"  # type: ignore[union-attr]


def test_a_limit_below_the_data_is_marked_at_the_bottom() -> None:
    svg = ET.fromstring(line_chart("recall", _at(0.991, 0.996, 1.0), fmt=lambda v: f"{v:.3f}", threshold=0.9,
                                   ceiling=1.0))
    limit, label = _limit(svg)
    assert limit.get("class") == "threshold off-scale" and float(limit.get("y1", "nan")) == HEIGHT - BOTTOM
    assert label == "limit 0.900 ↓"
    ticks = [t.text for t in svg.iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[:2] == ["1.000", "0.990"]  # 0.991 - 8 % of the 0.009 span: the data fills the plot


def test_a_limit_near_the_data_is_on_the_axis_and_labelled() -> None:
    svg = ET.fromstring(line_chart("p95", _at(20.0, 40.0), fmt=lambda v: f"{v:.0f}", threshold=54.0, floor=0.0,
                                   unit=" ms"))
    limit, label = _limit(svg)
    y = float(limit.get("y1", "nan"))
    assert limit.get("class") == "threshold" and TOP <= y < TOP + 10 and label == "limit 54 ms"
    (line,) = _polylines(svg)
    assert all(y < py for _, py in line)  # the data lies below its limit


def test_a_week_window_marks_each_day_and_places_points_in_time() -> None:
    start, end = T0, T0 + timedelta(days=7)
    points = [(T0 + timedelta(hours=6 + 12 * i), 1.0 + i % 3) for i in range(14)]
    svg = ET.fromstring(line_chart("p95", points, fmt=_fmt, start=start, end=end))
    days = next(g for g in svg.iter(f"{NS}g") if g.get("class") == "days")
    assert [t.text for t in days.iter(f"{NS}text")] == ["03-05", "03-06", "03-07", "03-08", "03-09", "03-10",
                                                        "03-11"]
    (line,) = _polylines(svg)
    scale = Scale(start.timestamp(), end.timestamp(), 0, 1)
    assert line[0][0] == round(scale.x(points[0][0].timestamp()), 1) and line[0][0] > LEFT
    assert line[-1][0] == round(scale.x(points[-1][0].timestamp()), 1) and line[-1][0] < WIDTH - RIGHT
    ticks = [t.text for t in svg.iter(f"{NS}text") if t.get("class") == "tick"]
    assert ticks[2:] == ["03-04 05:06", "03-11 05:06"]  # the window's ends, not the first and last points


def test_ninety_days_of_dates_do_not_overlap() -> None:
    svg = ET.fromstring(line_chart("p95", _at(1.0, 2.0), fmt=_fmt, start=T0 - timedelta(days=90), end=T0))
    days = next(g for g in svg.iter(f"{NS}g") if g.get("class") == "days")
    xs = [float(t.get("x", "nan")) for t in days.iter(f"{NS}text")]
    assert len(xs) >= 5 and min(b - a for a, b in pairwise(xs)) >= 40
