"""Line charts rendered on the server as inline SVG: no JavaScript, no stylesheet or font from elsewhere.

The vertical axis is scaled to the data (a sub-millisecond latency fills the plot); the alert limit is always drawn:
as a dashed line where it falls on the axis, else as a marker at the edge it lies beyond ("limit 54 ms ↑").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

WIDTH, HEIGHT = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 32, 36
# A limit further from the data than this many data spans is marked at the edge instead of squashing the line.
LIMIT_REACH = 1.0
UP, DOWN = "↑", "↓"


@dataclass(frozen=True)
class Scale:
    """Maps data to the plot area.

    :param t0: first timestamp (epoch seconds).
    :param t1: last timestamp.
    :param y0: value at the bottom of the plot.
    :param y1: value at the top.
    """

    t0: float
    t1: float
    y0: float
    y1: float

    def x(self, t: float) -> float:
        """Horizontal pixel of time ``t``."""
        span = self.t1 - self.t0
        share = (t - self.t0) / span if span > 0 else 1.0
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        """Vertical pixel of ``value``."""
        span = self.y1 - self.y0
        share = (value - self.y0) / span if span > 0 else 0.5
        return HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM)


def line_chart(title: str, points: Sequence[tuple[datetime, float | None]], *, fmt: Callable[[float], str],
               threshold: float | None = None, floor: float | None = None, ceiling: float | None = None,
               css_class: str = "chart", unit: str = "", start: datetime | None = None,
               end: datetime | None = None) -> str:
    """An SVG line chart of one measure over time.

    Gaps (``None`` values) break the line. The axis spans the data (and ``floor`` / ``ceiling``); ``threshold`` is
    drawn dashed and labelled, at the plot's edge with an arrow when it lies off the axis.

    :param title: caption at the top, also the accessible name.
    :param points: ``(measured_at, value)``, oldest first.
    :param fmt: formats a value for the axis labels and tooltips.
    :param threshold: the limit to draw, if any.
    :param floor: lowest value of the axis at most (e.g. ``0`` for latencies).
    :param ceiling: highest value of the axis at least (e.g. ``1`` for recall).
    :param css_class: ``class`` of the ``<svg>`` element.
    :param unit: appended to values in the limit's label and the tooltips (e.g. ``" ms"``).
    :param start: left edge of the time axis (default: the first point); the days in between are marked.
    :param end: right edge of the time axis (default: the last point).
    :return: the ``<svg>`` markup.
    """
    # a non-finite value is a gap too: it has no place on the axis
    points = [(t, v if v is not None and math.isfinite(v) else None) for t, v in points]
    values = [v for _, v in points if v is not None]
    head = (f'<svg class="{escape(css_class)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="{LEFT}" y="14" class="caption">{escape(title)}</text>')
    if not values:
        return head + (f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" class="none">'
                       "no measurements yet</text></svg>")
    first, last = start or points[0][0], end or points[-1][0]
    scale = _scale(first, last, values, threshold, floor, ceiling)
    parts = [head, _days(scale, first, last), _axes(scale, first, last, fmt)]
    if threshold is not None:
        parts.append(_limit(scale, threshold, f"limit {fmt(threshold)}{unit}"))
    for segment in _segments(points):
        coords = " ".join(f"{scale.x(t.timestamp()):.1f},{scale.y(v):.1f}" for t, v in segment)
        parts.append(f'<polyline class="line" fill="none" points="{coords}"/>')
    last_t, last_v = next((t, v) for t, v in reversed(points) if v is not None)
    parts.append(f'<circle class="last" cx="{scale.x(last_t.timestamp()):.1f}" cy="{scale.y(last_v):.1f}" r="3">'
                 f"<title>{escape(_stamp(last_t))}: {escape(fmt(last_v))}{escape(unit)}</title></circle>")
    return "".join(parts) + "</svg>"


def _scale(first: datetime, last: datetime, values: list[float], threshold: float | None, floor: float | None,
           ceiling: float | None) -> Scale:
    low, high = min(values), max(values)
    if floor is not None:
        low = min(low, floor)
    if ceiling is not None:
        high = max(high, ceiling)
    if threshold is not None:
        reach = (high - low) * LIMIT_REACH
        if low - reach <= threshold <= high + reach:  # near enough: on the axis, the data keeps most of the plot
            low, high = min(low, threshold), max(high, threshold)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    y0 = low if floor is not None and low == floor else low - pad
    y1 = high if ceiling is not None and high == ceiling else high + pad
    return Scale(first.timestamp(), last.timestamp(), y0, y1)


def _limit(scale: Scale, threshold: float, label: str) -> str:
    """The limit as a dashed line with its label; at the top or bottom edge, with an arrow, when off the axis."""
    right = WIDTH - RIGHT
    if threshold > scale.y1:
        y, css, text, text_y = float(TOP), "threshold off-scale", f"{label} {UP}", TOP - 4.0
    elif threshold < scale.y0:
        y, css, text, text_y = float(HEIGHT - BOTTOM), "threshold off-scale", f"{label} {DOWN}", HEIGHT - BOTTOM - 4.0
    else:
        y, css, text = scale.y(threshold), "threshold", label
        text_y = y - 3 if y - 3 > TOP + 9 else y + 11  # above the line, or below it when that would leave the plot
    return (f'<line class="{css}" x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke-dasharray="4 3">'
            f'<title>{escape(label)}</title></line>'
            f'<text class="threshold-label" x="{right - 2}" y="{text_y:.1f}" text-anchor="end">{escape(text)}</text>')


def _axes(scale: Scale, first: datetime, last: datetime, fmt: Callable[[float], str]) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    return (f'<g class="axes"><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>'
            f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/></g>'
            f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{escape(fmt(scale.y1))}</text>'
            f'<text class="tick" x="{LEFT - 4}" y="{bottom}" text-anchor="end">{escape(fmt(scale.y0))}</text>'
            f'<text class="tick" x="{LEFT}" y="{HEIGHT - 4}">{escape(_stamp(first))}</text>'
            f'<text class="tick" x="{right}" y="{HEIGHT - 4}" text-anchor="end">{escape(_stamp(last))}</text>')


def _days(scale: Scale, first: datetime, last: datetime) -> str:
    """A faint line at each midnight (UTC) of a chart spanning more than a day, dated where there is room."""
    if last - first <= timedelta(days=1):
        return ""
    per_day = scale.x(first.timestamp() + 86_400) - scale.x(first.timestamp())
    stride = max(1, math.ceil(40 / per_day)) if per_day > 0 else 1  # dates at least 40 px apart
    day = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    marks, n = [], 0
    while day < last:
        x = scale.x(day.timestamp())
        if n % stride == 0:
            marks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
                         f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 12}" text-anchor="middle">{day:%m-%d}</text>')
        day, n = day + timedelta(days=1), n + 1
    return f'<g class="days">{"".join(marks)}</g>'


def _segments(points: Sequence[tuple[datetime, float | None]]) -> list[list[tuple[datetime, float]]]:
    segments: list[list[tuple[datetime, float]]] = [[]]
    for t, v in points:
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((t, v))
    return [s if len(s) > 1 else s * 2 for s in segments if s]  # a lone point still shows (as a dot)


def _stamp(t: datetime) -> str:
    return t.strftime("%m-%d %H:%M")
