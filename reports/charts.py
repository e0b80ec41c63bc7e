"""Small inline SVG charts for the HTML report: the geometry is computed here, the SVG is drawn by
the autoescaping template macros in templates/charts.svg.j2 (so every label, which is report data
strangers control, is escaped like all other text). No script, no CDN, no external resource."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 18, 6, 190


@dataclass
class Bar:
    label: str
    short: str
    good: int
    bad: int
    y: int
    good_w: float
    bad_w: float


@dataclass
class BarChart:
    """Horizontal stacked bars (label, good, bad), to scale with the largest total."""

    title: str
    width: int
    height: int
    labels: tuple[str, str]
    bars: list[Bar] = field(default_factory=list)
    kind: str = "bars"
    label_w: int = LABEL_WIDTH
    bar_h: int = BAR_HEIGHT

    @property
    def legend_x(self) -> int:
        return self.width - 150


@dataclass
class Column:
    label: str
    good: int
    bad: int
    x: float
    w: float
    good_h: float
    bad_h: float


@dataclass
class ColumnChart:
    """Vertical stacked columns over time (day, passing, failing)."""

    title: str
    width: int
    height: int
    top: int
    columns: list[Column] = field(default_factory=list)
    labels: tuple[str, str] = ("pass", "fail")
    kind: str = "columns"

    @property
    def base(self) -> int:
        return self.height - 24

    @property
    def legend_x(self) -> int:
        return self.width - 150


def stacked_bars(
    rows: Sequence[tuple[str, int, int]],
    *,
    title: str,
    labels: tuple[str, str] = ("pass", "fail"),
    width: int = 640,
) -> BarChart:
    scale_w = width - LABEL_WIDTH - 90
    top = max((good + bad for _, good, bad in rows), default=0) or 1
    chart = BarChart(title, width, 28 + len(rows) * (BAR_HEIGHT + BAR_GAP), labels)
    for index, (label, good, bad) in enumerate(rows):
        chart.bars.append(
            Bar(
                label,
                _short(label, 28),
                good,
                bad,
                24 + index * (BAR_HEIGHT + BAR_GAP),
                round(scale_w * good / top, 1),
                round(scale_w * bad / top, 1),
            )
        )
    return chart


def columns_by_day(
    days: Sequence[tuple[str, int, int]], *, title: str, width: int = 640, height: int = 180
) -> ColumnChart | None:
    if not days:
        return None
    plot_h = height - 48
    top = max(good + bad for _, good, bad in days) or 1
    col_w = max(min((width - 60) / len(days) - 2, 40), 2)
    chart = ColumnChart(title, width, height, top)
    for index, (day, good, bad) in enumerate(days):
        chart.columns.append(
            Column(
                day,
                good,
                bad,
                round(40 + index * (col_w + 2), 1),
                round(col_w, 1),
                round(plot_h * good / top, 1),
                round(plot_h * bad / top, 1),
            )
        )
    return chart


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
