"""`dnsfence schedule`: the transitions ahead, as text and JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from resolver.commands import schedule
from resolver.commands.loaded_policy import policy_or_fail
from resolver.config.load import defaults
from tests.commands.cli_runner import dnsfence, write_tree


def test_schedule_text(site: Path) -> None:
    run = dnsfence("schedule", cwd=site)
    assert (run.status, run.err) == (0, "")
    assert run.out.splitlines() == [
        "2023-03-20 00:00 CET   (2023-03-19 23:00 UTC)  social: blocking starts "
        "(1 name, 1 exception)",
        "2023-04-01 00:00 CEST  (2023-03-31 22:00 UTC)  social: block later.example starts "
        "(blocklists/social.yaml:7:13)",
        "2023-06-01 00:00 CEST  (2023-05-31 22:00 UTC)  social: exception newsroom.tiktok.com "
        "ends (blocklists/social.yaml:10:13)",
    ]


def test_schedule_json(site: Path) -> None:
    lines = dnsfence("schedule", "--json", cwd=site).json_lines()
    assert [{k: line[k] for k in ("instant", "utc", "list", "rule", "change", "names")}
            for line in lines] == [
        {"instant": "2023-03-20T00:00:00+01:00", "utc": "2023-03-19T23:00:00+00:00",
         "list": "social", "rule": None, "change": "starts", "names": 2},
        {"instant": "2023-04-01T00:00:00+02:00", "utc": "2023-03-31T22:00:00+00:00",
         "list": "social", "rule": "later.example", "change": "starts", "names": 1},
        {"instant": "2023-06-01T00:00:00+02:00", "utc": "2023-05-31T22:00:00+00:00",
         "list": "social", "rule": "newsroom.tiktok.com", "change": "ends", "names": 1},
    ]


def test_schedule_from_is_inclusive_and_until_exclusive(site: Path) -> None:
    def rules(*args: str) -> list[str | None]:
        return [line["rule"] for line in dnsfence("schedule", "--json", *args,
                                                  cwd=site).json_lines()]

    assert rules("--from", "2023-03-31T22:00:00Z") == ["later.example", "newsroom.tiktok.com"]
    assert rules("--from", "2023-03-31T22:00:01Z") == ["newsroom.tiktok.com"]
    assert rules("--until", "2023-05-31T22:00:00Z") == [None, "later.example"]
    assert rules("--from", "2023-03-21", "--until", "2023-06-02") == ["later.example",
                                                                       "newsroom.tiktok.com"]
    run = dnsfence("schedule", "--from", "2030-01-01", cwd=site)
    assert (run.status, run.out) == (0, "no transitions in that period\n")


def test_run_in_process_filters_the_period_and_says_when_nothing_changes(site: Path) -> None:
    policy, _ = policy_or_fail(defaults().with_overrides(blocklists=site / "blocklists"))
    out = io.StringIO()
    assert schedule.run(policy, datetime(2023, 3, 25, tzinfo=UTC), None, as_json=True,
                        out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["rule"], line["action"]) for line in lines] == [
        ("later.example", "block"), ("newsroom.tiktok.com", "allow")]
    out = io.StringIO()
    assert schedule.run(policy, None, datetime(2023, 1, 1, tzinfo=UTC), as_json=True,
                        out=out) == 0
    assert out.getvalue() == ""  # JSON output stays empty, no sentence
    out = io.StringIO()
    schedule.run(policy, None, datetime(2023, 1, 1, tzinfo=UTC), as_json=False, out=out)
    assert out.getvalue() == "no transitions in that period\n"


OFFICE = {"blocklists/office.yaml": """
    name: office
    reference: r
    effective: 2026-03-01
    expires: 2026-12-01
    timezone: Europe/Brussels
    schedule: {mon-fri: "09:00-17:30", sun: "01:30-03:30"}
    domains:
      - tiktok.com
      - domain: youtube.com
        schedule: {mon: "12:00-20:00"}
    """}


def test_window_edges_are_listed_within_the_period_dst_days_included(tmp_path: Path) -> None:
    write_tree(tmp_path, OFFICE)
    run = dnsfence("schedule", "--from", "2026-03-29", "--until", "2026-03-30T13:00:00Z",
                   cwd=tmp_path)
    assert (run.status, run.err) == (0, "")
    assert run.out.splitlines() == [
        # the spring-forward night: 01:30 CET to 03:30 CEST is one real hour
        "2026-03-29 01:30 CET   (2026-03-29 00:30 UTC)  office: window opens (1 name)",
        "2026-03-29 03:30 CEST  (2026-03-29 01:30 UTC)  office: window closes (1 name)",
        "2026-03-30 09:00 CEST  (2026-03-30 07:00 UTC)  office: window opens (1 name)",
        "2026-03-30 12:00 CEST  (2026-03-30 10:00 UTC)  office: block youtube.com window opens "
        "(blocklists/office.yaml:9:13)",
    ]
    autumn = dnsfence("schedule", "--from", "2026-10-24T22:00Z", "--until", "2026-10-26", "--json",
                      cwd=tmp_path).json_lines()
    assert [(line["instant"], line["utc"], line["change"], line["names"]) for line in autumn] == [
        ("2026-10-25T01:30:00+02:00", "2026-10-24T23:30:00+00:00", "opens", 1),
        ("2026-10-25T03:30:00+01:00", "2026-10-25T02:30:00+00:00", "closes", 1),  # 3 h later
    ]


def test_window_edges_are_bounded_to_a_week_without_until(tmp_path: Path) -> None:
    write_tree(tmp_path, OFFICE)
    lines = dnsfence("schedule", "--from", "2026-06-01", "--json", cwd=tmp_path).json_lines()
    edges = [line for line in lines if line["change"] in ("opens", "closes")]
    # mon-fri (10) + sun (2) + youtube's monday (2): one week, and not the dates' edges
    assert len(edges) == 14
    assert edges[-1]["utc"] < "2026-06-08T00:00:00"
    assert all(line["change"] in ("opens", "closes", "ends") for line in lines)
    assert lines[-1]["change"] == "ends"  # the list's expiry is still shown
    policy, _ = policy_or_fail(defaults().with_overrides(blocklists=tmp_path / "blocklists"))
    out = io.StringIO()
    schedule.run(policy, None, None, as_json=True, out=out,
                 now=datetime(2026, 9, 7, tzinfo=UTC))
    shown = [json.loads(line) for line in out.getvalue().splitlines()]
    assert shown[0]["change"] == "starts"  # the dates' transitions from the beginning, as ever
    shown = [line for line in shown if line["change"] in ("opens", "closes")]
    assert shown[0]["utc"] == "2026-09-07T07:00:00+00:00"  # monday 09:00 CEST
    assert sum(line["change"] == "opens" for line in shown) == 7


def test_the_warning_period_is_listed_with_the_ban_it_announces(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/video.yaml": """
        name: video
        reference: Board decision 2023-03
        observe_from: 2023-03-06
        effective: 2023-03-20
        timezone: Europe/Brussels
        domains: [tiktok.com, tiktokv.com]
    """})
    run = dnsfence("schedule", cwd=tmp_path)
    assert run.status == 0
    assert run.out.splitlines() == [
        "2023-03-06 00:00 CET   (2023-03-05 23:00 UTC)  video: observation starts, blocking "
        "from 2023-03-20 00:00 CET (what it will block is answered and counted as observed)",
        "2023-03-20 00:00 CET   (2023-03-19 23:00 UTC)  video: blocking starts (2 names)",
    ]
