"""The dashboard's charts as inline SVG, drawn here like the report's (`report.chart`): no
script, no library, the same colours and axis steps. Blocked attempts per list per hour
(the last 24 hours) and per day (the last 30 days); a list's warning-period answers
(observed) are a paler bar beside its blocked one; a list's start or end inside the
range is a dashed line.

Each bar carries `data-list` and `data-kind` (blocked or observed), and there is one
bar per list per hour or day with data: the browser test counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from resolver.report.chart import MARKER, MIN_BAR, nice_ceiling

WIDTH = 760
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 30, 34
HEIGHT = 190  # of the plot


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    blocked: Sequence[int]
    observed: Sequence[int]


@dataclass(frozen=True, slots=True)
class Marker:
    at: float     # in slots from the left edge (2.5: half way through the third slot)
    label: str


def bars(title: str, slots: Sequence[str], ticks: Sequence[tuple[int, str]],
         series: Sequence[Series], markers: Sequence[Marker] = ()) -> str:
    """A chart of `len(slots)` slots (`slots`: each one's name, for the bars' tooltips);
    `ticks`: (slot, label) shown under the axis."""
    count = max(len(slots), 1)
    slot = (WIDTH - LEFT - RIGHT) / count
    charted = [s for s in series if any(s.blocked) or any(s.observed)]
    width, height, base = WIDTH, TOP + HEIGHT + BOTTOM, TOP + HEIGHT
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" shape-rendering="crispEdges" '
             f'font-family="sans-serif" font-size="11" class="chart">',
             f"<title>{escape(title)}</title>"]
    if not charted:
        parts.append(f'<text x="{LEFT}" y="{TOP + HEIGHT // 2}">no blocked attempts in '
                     "this period</text></svg>")
        return "".join(parts)
    top = nice_ceiling(max(max(*s.blocked, *s.observed) for s in charted))
    for k in range(3):
        y = base - round(HEIGHT * k / 2)
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{width - RIGHT}" y2="{y}" '
                     f'stroke="{"#888" if k == 0 else "#ddd"}"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4}" text-anchor="end">'
                     f"{top * k // 2:,}</text>")
    for index, label in ticks:
        x = LEFT + (index + 0.5) * slot
        parts.append(f'<text x="{x:.0f}" y="{base + 14}" text-anchor="middle">'
                     f"{escape(label)}</text>")
    kinds = [(s, kind) for s in charted for kind in ("blocked", "observed")
             if any(getattr(s, kind))]
    bar = max(MIN_BAR, int((slot - 2) // len(kinds)))
    offset = (slot - bar * len(kinds)) / 2
    for j, (s, kind) in enumerate(kinds):
        values = getattr(s, kind)
        opacity = "" if kind == "blocked" else ' fill-opacity="0.4"'
        for i, value in enumerate(values):
            if not value:
                continue
            tall = max(MIN_BAR, round(HEIGHT * value / top))
            x = round(LEFT + i * slot + offset + j * bar)
            parts.append(f'<rect x="{x}" y="{base - tall}" width="{bar}" height="{tall}" '
                         f'fill="{s.colour}"{opacity} data-list="{escape(s.name)}" '
                         f'data-kind="{kind}"><title>{escape(s.name)} {escape(slots[i])}: '
                         f"{value:,} {kind}</title></rect>")
    for row, marker in enumerate(markers):
        x = round(LEFT + marker.at * slot)
        parts.append(f'<line x1="{x}" y1="{TOP - 4}" x2="{x}" y2="{base}" stroke="{MARKER}" '
                     'stroke-width="2" stroke-dasharray="5,3"/>')
        anchor = ' text-anchor="end"' if x > width / 2 else ""
        dx = -4 if x > width / 2 else 4
        parts.append(f'<text x="{x + dx}" y="{TOP + 8 + 12 * row}"{anchor} fill="{MARKER}" '
                     f'stroke="#fff" stroke-width="3" paint-order="stroke">'
                     f"{escape(marker.label)}</text>")
    parts += _legend(charted, base + 28)
    parts.append("</svg>")
    return "".join(parts)


def _legend(charted: Sequence[Series], y: int) -> list[str]:
    parts, x = [], LEFT
    for s in charted:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{s.colour}"/>'
                     f'<text x="{x + 14}" y="{y}">{escape(s.name or "(no list)")}</text>')
        x += 14 + 7 * len(s.name or "(no list)") + 16
    return parts
