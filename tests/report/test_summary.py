"""The report's content: every blocking list with its dates, every day, zero days too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from resolver.lists.load import load_policy
from resolver.report.summary import blocks, day_range
from tests.report.ban_log import (
    BLOCKLISTS,
    FIRST_DAY,
    LAST_DAY,
    ban_records,
    ban_report,
    planned,
)


def test_each_list_with_its_dates_and_every_day_of_the_report(tmp_path: Path) -> None:
    report = ban_report(tmp_path)
    assert [entry.name for entry in report.lists] == ["ads", "gone", "quiet", "tiktok"]
    assert (report.first_day, report.last_day) == (FIRST_DAY, LAST_DAY)
    every_day = day_range(FIRST_DAY, LAST_DAY)
    assert len(every_day) == 7
    for entry in report.lists:
        plan = planned(entry.name)
        assert [d.day for d in entry.days] == every_day
        assert [(d.attempts, d.clients) for d in entry.days] == \
            [plan.get(day, (0, 0)) for day in every_day]
        assert entry.attempts == sum(a for a, _ in plan.values())
    by_name = {entry.name: entry for entry in report.lists}
    tiktok = by_name["tiktok"]
    assert (tiktok.in_policy, tiktok.timezone) == (True, "Europe/Brussels")
    assert tiktok.effective == datetime(2023, 3, 19, 23, tzinfo=UTC) and tiktok.expires is None
    assert tiktok.clients == 4  # 198.51.100.0 to .3 over the three days
    assert tiktok.top_names == (("tiktok.com", 12), ("www.tiktok.com", 10))
    ads = by_name["ads"]
    assert ads.expires == datetime(2023, 3, 23, tzinfo=UTC)
    gone = by_name["gone"]
    assert (gone.in_policy, gone.timezone, gone.effective, gone.attempts) == \
        (False, None, None, 1)
    quiet = by_name["quiet"]
    assert (quiet.in_policy, quiet.attempts, quiet.first_seen, quiet.top_names) == \
        (True, 0, None, ())
    assert report.blocked == sum(1 for r in ban_records() if r["verdict"] == "blocked")
    assert report.read.skipped == 2 and len(report.read.files) == 3


def test_one_list_only_even_when_nothing_was_blocked(tmp_path: Path) -> None:
    report = ban_report(tmp_path, only="quiet")
    assert [(e.name, e.attempts, e.in_policy) for e in report.lists] == [("quiet", 0, True)]
    assert report.first_day is None and report.lists[0].days == ()
    unknown = ban_report(tmp_path / "again", only="typo")
    assert [(e.name, e.in_policy) for e in unknown.lists] == [("typo", False)]


def test_without_a_policy_the_log_alone_is_reported(tmp_path: Path) -> None:
    report = ban_report(tmp_path, with_policy=False)
    assert [(e.name, e.in_policy, e.effective) for e in report.lists] == [
        ("ads", False, None), ("gone", False, None), ("tiktok", False, None)]


def test_the_period_narrows_the_days(tmp_path: Path) -> None:
    since = datetime(2023, 3, 19, 23, tzinfo=UTC)  # 20 March in Brussels
    report = ban_report(tmp_path, since=since)
    assert report.first_day == "2023-03-20"
    assert report.read.outside == sum(1 for r in ban_records() if r["ts"] < "2023-03-19T23")


def test_a_list_of_exceptions_only_is_not_a_blocking_list(tmp_path: Path) -> None:
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists" / "ok.yaml").write_text(
        "name: ok\nreference: r\neffective: 2023-01-01\nallow:\n  - fine.example\n")
    (tmp_path / "blocklists" / "tiktok.yaml").write_text(BLOCKLISTS["tiktok.yaml"])
    policy = load_policy(tmp_path / "blocklists").policy
    assert policy is not None
    assert {b.name: blocks(b) for b in policy.lists} == {"ok": False, "tiktok": True}


def test_day_range_crosses_months_and_a_dst_change() -> None:
    assert day_range("2023-03-30", "2023-04-02") == ["2023-03-30", "2023-03-31",
                                                     "2023-04-01", "2023-04-02"]
    assert day_range("2023-03-20", "2023-03-20") == ["2023-03-20"]
