"""The dashboard's JSON document, its "Why?" answers and its page, from a live server's
sources (a worker's shared report, the reloader's state, the policy, the query log), each
figure checked against the command that says the same (status, schedule, check, report)."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from resolver.commands import check, schedule
from resolver.commands.worker_report import reported_status
from resolver.dashboard.app import FRESH, POLICY_FRESH, Dashboard, Sources
from resolver.health import Health
from resolver.policy.period import index_of
from tests.dashboard.live_site import NOW, STARTED, UPSTREAM, LiveSite, all_records, live_site
from tests.report.ban_log import ZONE, planned

HEALTHY = Health(True, "ok: 1 worker answering DNS")


@pytest.fixture
def site(tmp_path: Path) -> LiveSite:
    return live_site(tmp_path / "site", HEALTHY)


def read_log(dashboard: Dashboard, site: LiveSite) -> dict[str, Any]:
    """The document once the log's thread has read the whole log (a bounded wait; the
    clock moves a second a try, so that the document is made again)."""
    deadline = time.monotonic() + 10
    while True:
        document = dashboard.document()
        log = document["attempts"]["log"]
        if log["read_at"] is not None and log["behind_bytes"] == 0:
            return document
        assert time.monotonic() < deadline, "the log was never read"
        site.clock.advance(FRESH)
        time.sleep(0.05)


def test_now_is_the_status_document_of_the_shared_reports(site: LiveSite) -> None:
    document = site.dashboard.document()
    now = document["now"]
    assert document["timezone"] == "Europe/Brussels"
    assert now["started"] == STARTED.astimezone(ZoneInfo(ZONE)).isoformat()
    assert now["workers"]["count"] == 1 and now["workers"]["pids"] == [4242]
    assert now["workers"]["supervisor"] is None  # a single-process server
    assert now["health"] == {"ok": True, "reason": HEALTHY.reason}
    assert now["answers"]["blocked"] == 30 and now["answers"]["forwarded"] == 10
    assert now["blocked_by_list"] == {"ads": 10, "tiktok": 20}
    assert now["upstream"]["servers"] == [
        {"server": UPSTREAM, "responses": {"NOERROR": 8, "NXDOMAIN": 1}, "answered": 9}]
    assert (now["upstream"]["forwarded"], now["upstream"]["failures"]) == (10, 1)
    assert now["upstream"]["last_minute"] is None  # one sample only
    assert now["policy"]["lists"] == len(site.policy.lists)
    assert now["last_reload"] is None


def test_the_next_change_says_what_schedule_says(site: LiveSite) -> None:
    policy = site.dashboard.document()["now"]["policy"]
    at = datetime.fromisoformat(policy["next_change"])
    assert at == datetime(2023, 3, 23, tzinfo=UTC)  # ads expires (its list is in UTC)
    out = io.StringIO()
    schedule.run(site.policy, at, at + timedelta(seconds=1), as_json=False, out=out)
    said = [line.split("  ", 2)[-1].strip() for line in out.getvalue().splitlines()]
    assert policy["next_change_does"] == said and said and said[0].startswith("ads:")


def test_the_last_minute_of_upstream_answers(site: LiveSite) -> None:
    site.dashboard.document()
    site.clock.advance(30)
    site.publish({"blocked": 30, "forwarded": 25, "upstream_failures": 4}, {})
    recent = site.dashboard.document()["now"]["upstream"]["last_minute"]
    assert recent == {"seconds": 30.0, "forwarded": 15, "failures": 3}


def test_lists_have_their_state_dates_and_sizes(site: LiveSite) -> None:
    lists = {entry["name"]: entry for entry in site.dashboard.document()["lists"]}
    assert {name: entry["state"] for name, entry in lists.items()} == {
        "ads": "in force", "tiktok": "in force", "quiet": "in force", "soon": "observing",
        "later": "scheduled", "old": "expired"}
    tiktok = lists["tiktok"]
    assert tiktok["effective"] == "2023-03-20T00:00:00+01:00"  # in the list's zone
    assert tiktok["reference"] == "Board decision 2023-07" and tiktok["entries"] == 1
    assert tiktok["file"] == f"{site.root / 'blocklists' / 'tiktok.yaml'}:1:7"  # name:
    assert lists["soon"]["observe_from"] == "2023-03-21T00:00:00+01:00"
    assert lists["ads"]["expires"] == "2023-03-23T00:00:00+00:00"


def test_the_timeline_is_schedules_with_now_between(site: LiveSite) -> None:
    timeline = site.dashboard.document()["timeline"]
    assert all(t["past"] for t in timeline["past"])
    assert not any(t["past"] for t in timeline["coming"])
    out = io.StringIO()
    schedule.run(site.policy, None, None, as_json=True, out=out, now=NOW)
    every = [json.loads(line) for line in out.getvalue().splitlines()]
    shown = [{k: t[k] for k in every[0]} for t in timeline["past"] + timeline["coming"]]
    past = [t for t in every if datetime.fromisoformat(t["utc"]) <= NOW]
    assert shown == past[-8:] + [t for t in every if t not in past][:12]
    assert timeline["coming"][0]["text"].startswith("ads: ")


def test_attempts_per_day_match_the_plan(site: LiveSite) -> None:
    attempts = read_log(site.dashboard, site)["attempts"]
    days = attempts["days"]
    assert len(days) == 30 and days[-1] == "2023-03-22"
    by_list = {entry["name"]: entry for entry in attempts["lists"]}
    for name in ("ads", "tiktok", "gone"):
        plan = planned(name)
        expected = [plan.get(day, (0, 0)) for day in days]
        assert by_list[name]["daily"] == [a for a, _ in expected], name
        assert by_list[name]["daily_clients"] == [c for _, c in expected], name
    # tiktok's records of 2023-03-23 lie after NOW: not shown
    assert by_list["tiktok"]["total"] == 19
    assert sum(by_list["soon"]["daily_observed"]) == 5 and by_list["soon"]["total"] == 0


def test_attempts_per_hour_are_the_last_24_hours(site: LiveSite) -> None:
    attempts = read_log(site.dashboard, site)["attempts"]
    hours = [datetime.fromisoformat(h) for h in attempts["hours"]]
    assert len(hours) == 24 and hours[-1] == datetime(2023, 3, 22, 12, tzinfo=UTC)
    start = hours[0]
    counted: Counter[tuple[str, str, datetime]] = Counter()
    for record in all_records():
        moment = datetime.fromisoformat(record["ts"])
        if start <= moment < hours[-1] + timedelta(hours=1) and record["list"]:
            hour = moment.replace(minute=0, second=0, microsecond=0)
            counted[record["list"], record["verdict"], hour] += 1
    for entry in attempts["lists"]:
        assert entry["hourly"] == [counted[entry["name"], "blocked", h] for h in hours]
        assert entry["hourly_observed"] == [counted[entry["name"], "observed", h]
                                            for h in hours]
    assert any(any(entry["hourly"]) for entry in attempts["lists"])


def test_top_names_and_clients_are_as_logged(site: LiveSite) -> None:
    attempts = read_log(site.dashboard, site)["attempts"]
    last = datetime(2023, 3, 22, 23, tzinfo=UTC)  # the end of the last local day
    names: Counter[tuple[str, str]] = Counter()
    clients: Counter[str] = Counter()
    for record in all_records():
        if record["verdict"] == "blocked" and datetime.fromisoformat(record["ts"]) < last:
            names[record["name"], record["list"]] += 1
            clients[record["client"]] += 1
    top = sorted(names.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(t["name"], t["list"], t["attempts"]) for t in attempts["top_names"]] == \
        [(name, list_name, count) for (name, list_name), count in top]
    assert {t["client"]: t["attempts"] for t in attempts["top_clients"]} == dict(clients)
    assert attempts["clients_logged_as"] == "truncate"
    assert attempts["log"]["files"] == 4 and attempts["log"]["skipped_lines"] >= 1


def test_why_answers_what_check_json_prints(site: LiveSite) -> None:
    for name, client in (("www.tiktok.com", ""), ("example.org", ""),
                         ("ads.example", "10.1.2.3")):
        status, answer, text = site.dashboard.check(name, client)
        who = check.client_of(client, site.config.server.allow_clients,
                              site.config.groups) if client else None
        expected = check.explain(site.policy, index_of(site.policy), name, NOW, who)
        assert (status, answer) == (200, expected)
        out = io.StringIO()
        check.run(site.policy, [name], NOW, as_json=False, out=out, client=who)
        assert text == out.getvalue().rstrip("\n")
    status, answer, _ = site.dashboard.check("www.tiktok.com")
    assert answer["blocked"] and answer["location"].endswith("tiktok.yaml:6:5")


def test_why_refuses_what_check_refuses(site: LiveSite) -> None:
    assert site.dashboard.check("", "")[0] == 400
    status, answer, _ = site.dashboard.check("tiktok.com", "press")
    assert status == 400 and "not an IP address" in answer["error"]
    status, answer, _ = site.dashboard.check("bad..name")
    assert status == 400 and "error" in answer


def test_the_document_is_made_once_a_second_and_the_policy_parts_less_often(
        site: LiveSite) -> None:
    first = site.dashboard.document()
    assert site.dashboard.document() is first
    site.clock.advance(FRESH)
    second = site.dashboard.document()
    assert second is not first and second["lists"] is first["lists"]
    site.clock.advance(POLICY_FRESH)
    assert site.dashboard.document()["lists"] is not first["lists"]


def test_without_a_log_file_the_attempts_say_why(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    for mode, path, words in (("off", "querylog.jsonl", "querylog.mode: off"),
                              ("blocked", "-", "standard output")):
        site.config = site.config.with_overrides(**{"querylog.mode": mode,
                                                    "querylog.path": path})
        dashboard = Dashboard(Sources(
            reports=site.shared.read,
            status=lambda found: reported_status(found, site.config, 0.0),
            policy=lambda: site.policy, config=lambda: site.config, clock=site.clock))
        document = dashboard.document()
        assert document["attempts"] is None and words in document["attempts_unavailable"]
        assert words in document["html"]["attempts"]


def test_the_page_holds_every_section_and_the_answer(site: LiveSite) -> None:
    html = site.dashboard.page("www.tiktok.com", "")
    for section in ("now", "lists", "timeline", "attempts", "why"):
        assert f'<section id="{section}">' in html
    assert "BLOCKED by list tiktok" in html and 'id="why-verdict" class="bad"' in html
    assert html.count("<script>") == 1 and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
