"""Small inline SVG charts, generated here (no script, no CDN, no external resource), so the HTML
report stays one self-contained file. Every label passes through escape(visible()): labels are
report data (IPs, provider and reporter names), which strangers control."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from reports.visible import visible

PASS_COLOUR = "#2e7d32"
FAIL_COLOUR = "#c62828"
OTHER_COLOUR = "#9e9e9e"


def _text(value: object) -> str:
    return str(escape(visible(str(value))))


def stacked_bars(
    rows: Sequence[tuple[str, int, int]],
    *,
    title: str,
    labels: tuple[str, str] = ("pass", "fail"),
    width: int = 640,
) -> Markup:
    """Horizontal bars, one per row: (label, good, bad), to scale with the largest total."""
    bar_h, gap, label_w = 18, 6, 190
    scale_w = width - label_w - 90
    top = max((good + bad for _, good, bad in rows), default=0) or 1
    height = 28 + len(rows) * (bar_h + gap)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_text(title)}</title>",
        _legend(labels, width),
    ]
    for index, (label, good, bad) in enumerate(rows):
        y = 24 + index * (bar_h + gap)
        good_w = scale_w * good / top
        bad_w = scale_w * bad / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{_text(_short(label, 28))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{good_w:.1f}" height="{bar_h}" '
            f'fill="{PASS_COLOUR}"><title>{_text(label)}: {good} {labels[0]}</title></rect>'
            f'<rect x="{label_w + good_w:.1f}" y="{y}" width="{bad_w:.1f}" height="{bar_h}" '
            f'fill="{FAIL_COLOUR}"><title>{_text(label)}: {bad} {labels[1]}</title></rect>'
            f'<text x="{label_w + good_w + bad_w + 6:.1f}" y="{y + 13}" font-size="12">'
            f"{good + bad}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns_by_day(
    days: Sequence[tuple[str, int, int]], *, title: str, width: int = 640, height: int = 180
) -> Markup:
    """Vertical stacked columns over time: (day, passing, failing)."""
    if not days:
        return Markup("")
    plot_h, base = height - 48, height - 24
    top = max(good + bad for _, good, bad in days) or 1
    col_w = max(min((width - 60) / len(days) - 2, 40), 2)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_text(title)}</title>",
        _legend(("pass", "fail"), width),
        f'<text x="4" y="30" font-size="11">{top}</text>',
    ]
    for index, (day, good, bad) in enumerate(days):
        x = 40 + index * (col_w + 2)
        good_h, bad_h = plot_h * good / top, plot_h * bad / top
        parts.append(
            f'<rect x="{x:.1f}" y="{base - good_h:.1f}" width="{col_w:.1f}" '
            f'height="{good_h:.1f}" fill="{PASS_COLOUR}"><title>{_text(day)}: {good} pass'
            f"</title></rect>"
            f'<rect x="{x:.1f}" y="{base - good_h - bad_h:.1f}" width="{col_w:.1f}" '
            f'height="{bad_h:.1f}" fill="{FAIL_COLOUR}"><title>{_text(day)}: {bad} fail'
            f"</title></rect>"
        )
    first, last = days[0][0], days[-1][0]
    parts.append(f'<text x="40" y="{height - 6}" font-size="11">{_text(first)}</text>')
    if last != first:
        parts.append(
            f'<text x="{width - 10}" y="{height - 6}" font-size="11" text-anchor="end">'
            f"{_text(last)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(labels: tuple[str, str], width: int) -> str:
    x = width - 150
    return (
        f'<rect x="{x}" y="4" width="10" height="10" fill="{PASS_COLOUR}"/>'
        f'<text x="{x + 14}" y="13" font-size="11">{_text(labels[0])}</text>'
        f'<rect x="{x + 70}" y="4" width="10" height="10" fill="{FAIL_COLOUR}"/>'
        f'<text x="{x + 84}" y="13" font-size="11">{_text(labels[1])}</text>'
    )


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
