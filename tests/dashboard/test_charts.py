"""The dashboard's SVG bars: one per list per slot with data, escaped, with dashed lines."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from resolver.dashboard.charts import Marker, Series, bars

SVG = "{http://www.w3.org/2000/svg}"


def rects(svg: str, **attributes: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect")
            if all(r.get(f"data-{k}") == v for k, v in attributes.items())]


def test_one_bar_per_list_per_slot_with_data() -> None:
    svg = bars("t", ["a", "b", "c", "d"], [(0, "a")],
               [Series("tiktok", "#0072B2", (3, 0, 1, 0), (0, 2, 0, 0)),
                Series("<b>", "#D55E00", (0, 0, 0, 5), (0, 0, 0, 0)),
                Series("quiet", "#009E73", (0, 0, 0, 0), (0, 0, 0, 0))],
               [Marker(1.5, "tiktok starts")])
    assert len(rects(svg, list="tiktok", kind="blocked")) == 2
    assert len(rects(svg, list="tiktok", kind="observed")) == 1
    assert len(rects(svg, list="<b>", kind="blocked")) == 1
    assert rects(svg, list="quiet") == [] and "quiet" not in svg  # no legend either
    assert "&lt;b&gt;" in svg and "<b>" not in svg.replace('data-list="&lt;b&gt;"', "")
    tallest = max(rects(svg, kind="blocked"), key=lambda r: int(r.get("height", 0)))
    assert tallest.get("data-list") == "<b>"
    assert "stroke-dasharray" in svg and "tiktok starts" in svg
    assert re.search(r"<title>tiktok b: 2 observed</title>", svg)


def test_nothing_to_draw_says_so() -> None:
    svg = bars("t", ["a"], [], [Series("x", "#000000", (0,), (0,))])
    assert "no blocked attempts" in svg and rects(svg) == []
