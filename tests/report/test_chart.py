"""The chart: one bar per list per day with data, in the list's colour; the dates marked."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from resolver.report.chart import LEFT, MARKER, PALETTE, colours, nice_ceiling, svg
from tests.report.ban_log import HOSTILE, ban_report, planned

SVG = "{http://www.w3.org/2000/svg}"


def bars(drawing: ET.Element, fill: str) -> list[ET.Element]:
    return [r for r in drawing.iter(f"{SVG}rect")
            if r.get("fill") == fill and r.find(f"{SVG}title") is not None]


def test_one_bar_per_day_with_data_in_each_lists_colour(tmp_path: Path) -> None:
    report = ban_report(tmp_path)
    drawing = ET.fromstring(svg(report))  # well-formed XML, so escaped
    palette = colours(report)
    assert len(set(palette.values())) == len(palette)
    for entry in report.lists:
        found = bars(drawing, palette[entry.name])
        assert len(found) == len(planned(entry.name)), entry.name
        heights = {r.find(f"{SVG}title").text.split()[1].rstrip(":"): int(r.get("height", ""))
                   for r in found}  # type: ignore[union-attr]
        plan = planned(entry.name)
        assert set(heights) == set(plan)
        # taller for more attempts, and never below 2 px
        order = sorted(plan, key=lambda day: plan[day][0])
        assert [heights[d] for d in order] == sorted(heights.values())
        assert min(heights.values(), default=2) >= 2
    # bars of one list on different days never touch
    xs = sorted(int(r.get("x", "")) for r in bars(drawing, palette["tiktok"]))
    width = int(bars(drawing, palette["tiktok"])[0].get("width", ""))
    assert all(b - a > width for a, b in itertools.pairwise(xs))


def test_the_effective_and_expiry_instants_are_marked(tmp_path: Path) -> None:
    report = ban_report(tmp_path)
    drawing = ET.fromstring(svg(report))
    lines = [line for line in drawing.iter(f"{SVG}line") if line.get("stroke") == MARKER]
    labels = [t.text for t in drawing.iter(f"{SVG}text") if t.get("fill") == MARKER]
    assert labels == ["ads expires 2023-03-23 00:00 UTC", "tiktok effective 2023-03-20 00:00 CET"]
    palette = colours(report)
    tiktok_xs = sorted(int(r.get("x", "")) for r in bars(drawing, palette["tiktok"]))
    ads_xs = sorted(int(r.get("x", "")) for r in bars(drawing, palette["ads"]))
    ads_line, tiktok_line = (int(line.get("x1", "")) for line in lines)
    # tiktok's line is left of its first bar (20 March) and right of every bar before it
    assert max(ads_xs[:2]) < tiktok_line < tiktok_xs[0]
    # ads expires at 01:00 on the 23rd in Brussels: just inside that day's slot
    assert ads_line > max(ads_xs) and ads_line > tiktok_line
    # the quiet list (effective long before) and gone (no dates) have no line
    assert len(lines) == 2


def test_names_from_the_network_are_escaped(tmp_path: Path) -> None:
    drawing = svg(ban_report(tmp_path))
    assert "<img" not in drawing
    assert HOSTILE not in drawing  # only its escaped form could appear
    assert "<script" not in drawing


def test_an_empty_report_says_so(tmp_path: Path) -> None:
    report = ban_report(tmp_path, only="quiet")
    assert "no blocked attempts in this period" in svg(report)
    ET.fromstring(svg(report))


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10),
                                            (10, 10), (11, 20), (99, 100), (101, 200),
                                            (4_999, 5_000), (5_001, 10_000)])
def test_the_axis_top_is_a_round_number(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


def test_the_palette_is_distinct_and_never_the_marker_colour() -> None:
    assert len(set(PALETTE)) == len(PALETTE) and MARKER not in PALETTE
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in PALETTE) and LEFT > 0
