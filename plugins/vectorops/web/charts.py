"""Line charts rendered on the server as inline SVG: no JavaScript, no stylesheet or font from elsewhere."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 22, 24


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
               css_class: str = "chart") -> str:
    """An SVG line chart of one measure over time.

    Gaps (``None`` values) break the line. A dashed line marks ``threshold`` (the alerting limit).

    :param title: caption at the top, also the accessible name.
    :param points: ``(measured_at, value)``, oldest first.
    :param fmt: formats a value for the axis labels and tooltips.
    :param threshold: the limit to draw, if any.
    :param floor: lowest value of the axis at most (e.g. ``0`` for latencies).
    :param ceiling: highest value of the axis at least (e.g. ``1`` for recall).
    :param css_class: ``class`` of the ``<svg>`` element.
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
    scale = _scale(points, values, threshold, floor, ceiling)
    parts = [head, _axes(scale, points, fmt)]
    if threshold is not None:
        y = scale.y(threshold)
        parts.append(f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke-dasharray="4 3"><title>limit {escape(fmt(threshold))}</title></line>')
    for segment in _segments(points):
        coords = " ".join(f"{scale.x(t.timestamp()):.1f},{scale.y(v):.1f}" for t, v in segment)
        parts.append(f'<polyline class="line" fill="none" points="{coords}"/>')
    last_t, last_v = next((t, v) for t, v in reversed(points) if v is not None)
    parts.append(f'<circle class="last" cx="{scale.x(last_t.timestamp()):.1f}" cy="{scale.y(last_v):.1f}" r="3">'
                 f"<title>{escape(_stamp(last_t))}: {escape(fmt(last_v))}</title></circle>")
    return "".join(parts) + "</svg>"


def _scale(points: Sequence[tuple[datetime, float | None]], values: list[float], threshold: float | None,
           floor: float | None, ceiling: float | None) -> Scale:
    low, high = min(values), max(values)
    if threshold is not None:
        low, high = min(low, threshold), max(high, threshold)
    if floor is not None:
        low = min(low, floor)
    if ceiling is not None:
        high = max(high, ceiling)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    y0 = low if floor is not None and low == floor else low - pad
    y1 = high if ceiling is not None and high == ceiling else high + pad
    return Scale(points[0][0].timestamp(), points[-1][0].timestamp(), y0, y1)


def _axes(scale: Scale, points: Sequence[tuple[datetime, float | None]], fmt: Callable[[float], str]) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    return (f'<g class="axes"><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>'
            f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/></g>'
            f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{escape(fmt(scale.y1))}</text>'
            f'<text class="tick" x="{LEFT - 4}" y="{bottom}" text-anchor="end">{escape(fmt(scale.y0))}</text>'
            f'<text class="tick" x="{LEFT}" y="{HEIGHT - 6}">{escape(_stamp(points[0][0]))}</text>'
            f'<text class="tick" x="{right}" y="{HEIGHT - 6}" text-anchor="end">{escape(_stamp(points[-1][0]))}</text>')


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
