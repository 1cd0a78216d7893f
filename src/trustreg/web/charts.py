"""Bar charts drawn on the server as inline SVG: no JavaScript, no chart library.

A chart is an ``<svg role="img">`` with a ``<title>`` naming it; every bar carries its
own ``<title>`` with its label, series and count, which screen readers read and
browsers show on hover. Bars of zero are not drawn. The caller passes text already
translated; everything is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 28, 56
COLOURS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, one value per label of the chart."""

    name: str
    values: Sequence[int]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 … that is at least ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """A bar chart of ``series`` over ``labels`` (bars side by side per label), with a
    y axis from zero, the labels under the bars and a legend when there are several
    series."""
    top = nice_ceiling(max((v for s in series for v in s.values), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{chart_id}-title" class="chart" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        *_y_axis(top),
        *_x_labels(labels),
        *_bars(labels, series, top),
    ]
    if len(series) > 1:
        parts += _legend(series)
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _plot_height() -> int:
    return HEIGHT - TOP - BOTTOM


def _y(value: float, top: int) -> float:
    return TOP + _plot_height() * (1 - value / top)


def _y_axis(top: int) -> list[str]:
    lines = []
    for tick in (0, top / 2, top):
        y = _y(tick, top)
        text = f"{tick:g}"
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            f' stroke="#ccc" stroke-width="1"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{text}</text>'
        )
    return lines


def _slot(count: int) -> float:
    return (WIDTH - LEFT - RIGHT) / max(count, 1)


def _x_labels(labels: Sequence[str]) -> list[str]:
    slot = _slot(len(labels))
    base = HEIGHT - BOTTOM + 12
    texts = []
    for n, label in enumerate(labels):
        x = LEFT + slot * (n + 0.5)
        texts.append(
            f'<text x="{x:.1f}" y="{base}" font-size="10" text-anchor="end"'
            f' transform="rotate(-45 {x:.1f} {base})">{escape(label)}</text>'
        )
    return texts


def _bars(labels: Sequence[str], series: Sequence[Series], top: int) -> list[str]:
    slot = _slot(len(labels))
    width = slot * 0.8 / max(len(series), 1)
    rects = []
    for s_index, one in enumerate(series):
        colour = COLOURS[s_index % len(COLOURS)]
        for n, (label, value) in enumerate(zip(labels, one.values, strict=True)):
            if value <= 0:
                continue
            x = LEFT + slot * n + slot * 0.1 + width * s_index
            y = _y(value, top)
            name = f"{label} {one.name}: {value}" if len(series) > 1 else f"{label}: {value}"
            rects.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}"'
                f' height="{HEIGHT - BOTTOM - y:.1f}" fill="{colour}">'
                f"<title>{escape(name)}</title></rect>"
            )
    return rects


def _legend(series: Sequence[Series]) -> list[str]:
    items = []
    for n, one in enumerate(series):
        x = LEFT + n * 140
        items.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[n % len(COLOURS)]}"/>'
            f'<text x="{x + 16}" y="16" font-size="12">{escape(one.name)}</text>'
        )
    return items
