"""Bar charts as geometry for an inline SVG (drawn by templates/stats.html; no JavaScript, no
charting library): stacked bars of new stories and edits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 44, 40, 12


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    new_y: float
    new_height: float
    edit_y: float
    edit_height: float
    new_stories: int
    edits: int


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines
    baseline: float
    left: int


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    step = 10 ** (len(str(value)) - 1)
    for factor in (1, 2, 5, 10):
        if value <= factor * step:
            return factor * step
    return value


def stacked_bars(title: str, series: list[dict[str, Any]], label: str) -> Chart:
    """Bars of ``new_stories`` (bottom) and ``edits`` (top) for each item of ``series``."""
    top = _nice_max(max((int(s["new_stories"]) + int(s["edits"]) for s in series), default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(series), 1)
    bars = []
    for index, item in enumerate(series):
        new, edits = int(item["new_stories"]), int(item["edits"])
        new_h = plot_h * new / top
        edit_h = plot_h * edits / top
        base = HEIGHT - BOTTOM
        bars.append(
            Bar(
                label=str(item[label]),
                x=round(LEFT + index * slot + slot * 0.15, 1),
                width=round(max(slot * 0.7, 1), 1),
                new_y=round(base - new_h, 1),
                new_height=round(new_h, 1),
                edit_y=round(base - new_h - edit_h, 1),
                edit_height=round(edit_h, 1),
                new_stories=new,
                edits=edits,
            )
        )
    ticks = [(round(HEIGHT - BOTTOM - plot_h * k / 4, 1), round(top * k / 4)) for k in range(5)]
    return Chart(title, WIDTH, HEIGHT, bars, ticks, HEIGHT - BOTTOM, LEFT)


__all__ = ["Bar", "Chart", "stacked_bars"]
