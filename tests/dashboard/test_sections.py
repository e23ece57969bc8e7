"""The sections' HTML from the document: hostile names escaped, a failed reload's file:line,
"now" in the timeline, and the attempts' tables."""

from __future__ import annotations

from pathlib import Path

from resolver.dashboard.sections import (
    attempts_html,
    lists_html,
    now_html,
    timeline_html,
    when,
)
from tests.dashboard.live_site import live_site
from tests.dashboard.test_app import read_log
from tests.report.ban_log import HOSTILE


def test_instants_are_shown_in_the_zone_asked() -> None:
    assert when("2023-03-19T23:00:00+00:00", "Europe/Brussels") == "2023-03-20 00:00 CET"
    assert when(None, "UTC") == "-"


def test_every_section_renders_and_escapes(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    document = read_log(site.dashboard, site)
    attempts = attempts_html(document["attempts"], ("<svg/>", "<svg/>"), None)
    assert HOSTILE not in attempts and "&lt;img src=x onerror=alert(1)&gt;" in attempts
    assert "top clients, as logged (truncate)" in attempts
    timeline = timeline_html(document["timeline"], document["lists"], "Europe/Brussels")
    assert '<tr class="now"><td>2023-03-22 13:00 CET</td><td>now</td></tr>' in timeline
    lists = lists_html(document["lists"])
    assert '<span class="state observing">observing</span>' in lists
    assert "from 2023-03-20 00:00 CET (Europe/Brussels)" in lists


def test_a_failed_reload_shows_each_problem_with_its_place(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    now = site.dashboard.document()["now"]
    now["last_reload"] = {"at": now["started"], "ok": False, "reason": "files changed",
                          "problems": ["blocklists/tiktok.yaml:4:3: <not> a name"],
                          "restart_needed": []}
    html = now_html(now, "Europe/Brussels")
    assert "FAILED at" in html and "still enforcing the policy loaded" in html
    assert "<li><code>blocklists/tiktok.yaml:4:3: &lt;not&gt; a name</code></li>" in html
    assert 'id="next-change">2023-03-23 01:00 CET</strong>: ads: blocking ends' in html


def test_without_a_log_the_attempts_say_why() -> None:
    assert "<p>the log is off</p>" in attempts_html(None, ("", ""), "the log is off")
