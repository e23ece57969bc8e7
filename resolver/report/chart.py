"""The report's chart as inline SVG, drawn here so that the page needs no script: blocked
attempts per day, one bar per list per day with data, one colour per list, and each list's
effective (and expiry) instant as a vertical line, so the trend around a ban shows.

Coordinates are whole pixels and bars are drawn with crisp edges: every bar is a run of
its list's exact colour, with at least a gap between days, which the browser test counts.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from html import escape

from resolver.policy.instants import show, zone
from resolver.report.local_days import LocalDays
from resolver.report.summary import ListSummary, Report

# Colour-blind safe (Okabe-Ito, without black and yellow) and then Tol's muted colours.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255",
           "#44AA99", "#999933", "#AA4499")
MARKER = "#333333"   # the effective/expiry lines: never a list's colour
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 84, 50   # margins around the plot
PLOT_WIDTH, PLOT_HEIGHT = 1000, 300          # the plot's size when the days fit
MIN_BAR = 2                                  # px: a day with one attempt still shows


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def colours(report: Report) -> dict[str, str]:
    """Each list's colour, by its place in the report (the legend and tables use the same)."""
    return {entry.name: colour(i) for i, entry in enumerate(report.lists)}


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (the axis top)."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def svg(report: Report) -> str:
    charted = [entry for entry in report.lists if entry.attempts]
    if not charted or report.first_day is None:
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="600" height="60" role="img">'
                '<text x="10" y="35">no blocked attempts in this period</text></svg>')
    palette = colours(report)
    days = len(charted[0].days)
    per_day = max(PLOT_WIDTH // days, 1)
    bar = min(24, max(MIN_BAR, (per_day - 2) // len(charted)))
    gap = max(2, per_day - bar * len(charted))
    slot = bar * len(charted) + gap
    width, height = LEFT + slot * days + RIGHT, TOP + PLOT_HEIGHT + BOTTOM
    base = TOP + PLOT_HEIGHT
    top = nice_ceiling(max(d.attempts for entry in charted for d in entry.days))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" shape-rendering="crispEdges" '
             'font-family="sans-serif" font-size="12">',
             '<title>Blocked attempts per day and list</title>',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    parts += _axes(report, top, days, slot, base)
    for j, entry in enumerate(charted):
        fill = palette[entry.name]
        for i, day in enumerate(entry.days):
            if not day.attempts:
                continue
            tall = max(MIN_BAR, round(PLOT_HEIGHT * day.attempts / top))
            x = LEFT + i * slot + gap // 2 + j * bar
            parts.append(f'<rect x="{x}" y="{base - tall}" width="{bar}" height="{tall}" '
                         f'fill="{fill}"><title>{escape(entry.name)} {day.day}: '
                         f'{day.attempts} attempts, {day.clients} clients</title></rect>')
    parts += _markers(report, charted, slot, base, width)
    parts += _legend(charted, palette)
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(report: Report, top: int, days: int, slot: int, base: int) -> list[str]:
    right = LEFT + slot * days
    parts = []
    for k in range(5):
        value = top * k // 4
        y = base - round(PLOT_HEIGHT * k / 4)
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="#dddddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{value:,}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}" stroke="#888888"/>')
    every = max(1, math.ceil(60 / slot))  # a label at least every 60 px
    first = date.fromisoformat(report.first_day or "")
    for i in range(0, days, every):
        label = (first + timedelta(days=i)).strftime("%m-%d")
        parts.append(f'<text x="{LEFT + i * slot + slot // 2}" y="{base + 16}" '
                     f'text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{LEFT}" y="{base + 38}">days ({escape(report.timezone)}), '
                 f'{escape(report.first_day or "")} to {escape(report.last_day or "")}</text>')
    return parts


def _markers(report: Report, charted: list[ListSummary], slot: int, base: int,
             width: int) -> list[str]:
    """A vertical line where each list starts (and ends) within the days shown."""
    local = LocalDays(zone(report.timezone))
    first = date.fromisoformat(report.first_day or "")
    start = local.instant(first)
    end = local.instant(date.fromisoformat(report.last_day or "") + timedelta(days=1))
    parts, row = [], 0
    for entry in charted:
        for what, moment in (("effective", entry.effective), ("expires", entry.expires)):
            if moment is None or not start <= moment < end:
                continue
            x = LEFT + round(day_offset(local, first, moment) * slot)
            label = f"{entry.name} {what} {show(moment, zone(entry.timezone or 'UTC'))}"
            y = TOP - 28 + 14 * row
            parts.append(f'<line x1="{x}" y1="{y - 10}" x2="{x}" y2="{base}" '
                         f'stroke="{MARKER}" stroke-width="2" stroke-dasharray="6,4"/>')
            # left of the line where it would run off the chart (7 px a character, about)
            side = (f'x="{x - 4}" text-anchor="end"' if x + 4 + 7 * len(label) > width
                    else f'x="{x + 4}"')
            # a white outline keeps the label readable where it crosses a bar
            parts.append(f'<text {side} y="{y}" fill="{MARKER}" stroke="#ffffff" '
                         f'stroke-width="3" paint-order="stroke">{escape(label)}</text>')
            row += 1
    return parts


def day_offset(local: LocalDays, first: date, moment: datetime) -> float:
    """Where `moment` falls in days since the local day `first` began (2.5: noon of the
    third day, on a day of 24 hours; a DST day's hours count as its own 23 or 25)."""
    day = moment.astimezone(local.zone).date()
    midnight = local.instant(day)
    length = local.instant(day + timedelta(days=1)) - midnight
    return (day - first).days + (moment - midnight) / length


def _legend(charted: list[ListSummary], palette: dict[str, str]) -> list[str]:
    parts, x = [], LEFT
    for entry in charted:
        parts.append(f'<rect x="{x}" y="12" width="12" height="12" '
                     f'fill="{palette[entry.name]}"/>')
        text = f"{entry.name or '(no list)'} ({entry.attempts:,})"
        parts.append(f'<text x="{x + 16}" y="22">{escape(text)}</text>')
        x += 16 + 7 * len(text) + 20
    return parts
