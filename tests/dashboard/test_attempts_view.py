"""The Attempts section's JSON and charts: one bar per list per hour or day with data, and
a list's start drawn where it falls."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from zoneinfo import ZoneInfo

from resolver.dashboard.attempts_view import Dates, daily_chart, hourly_chart
from tests.dashboard.live_site import live_site
from tests.dashboard.test_app import read_log
from tests.report.ban_log import ZONE

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str, name: str, kind: str = "blocked") -> int:
    return sum(1 for r in ET.fromstring(svg).iter(f"{SVG}rect")
               if r.get("data-list") == name and r.get("data-kind") == kind)


def test_the_charts_have_one_bar_per_slot_with_data(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    attempts = read_log(site.dashboard, site)["attempts"]
    tz = ZoneInfo(ZONE)
    dates = [Dates(b.name, b.window.effective, b.window.expires, ZoneInfo(b.timezone))
             for b in site.policy.lists]
    hourly, daily = hourly_chart(attempts, dates, tz), daily_chart(attempts, dates, tz)
    for entry in attempts["lists"]:
        for kind in ("", "_observed"):
            name = "blocked" if not kind else "observed"
            assert bars(hourly, entry["name"], name) == sum(
                1 for n in entry[f"hourly{kind}"] if n)
            assert bars(daily, entry["name"], name) == sum(
                1 for n in entry[f"daily{kind}"] if n)
    assert bars(daily, "tiktok") == 2 and bars(daily, "soon", "observed") == 2
    # tiktok's ban (2023-03-20, Brussels) lies in the 30 days, not in the last 24 hours
    assert "tiktok starts 2023-03-20 00:00 CET" in daily
    assert "tiktok starts" not in hourly


def test_the_json_carries_colours_and_the_log_state(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    attempts = read_log(site.dashboard, site)["attempts"]
    colours = [entry["colour"] for entry in attempts["lists"]]
    assert len(set(colours)) == len(colours)
    log = attempts["log"]
    assert log["path"] == str(site.log) and log["error"] is None
    assert log["records"] == sum(len(p.read_text().splitlines()) for p in
                                 site.log.parent.glob("querylog.jsonl*")) - 2  # 2 unreadable
