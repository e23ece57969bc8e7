"""The report as text: each list's numbers, its dates in its own zone, the days marked."""

from __future__ import annotations

import re
from pathlib import Path

from resolver.report.text import BAR, render
from tests.report.ban_log import LAST_DAY, ban_records, ban_report, planned, planned_names


def section(text: str, name: str) -> list[str]:
    """The lines of one list's section."""
    blocks = text.split("\n\n")
    [found] = [b for b in blocks if b.startswith(f"{name}:")]
    return found.splitlines()


def test_the_header_says_what_was_read(tmp_path: Path) -> None:
    text = render(ban_report(tmp_path))
    first, second = text.splitlines()[:2]
    assert first.startswith("Blocked queries in ") and "(3 files)" in first
    assert first.endswith("days in Europe/Brussels")
    blocked = sum(1 for r in ban_records() if r["verdict"] == "blocked")
    assert second == f"{blocked} blocked of {len(ban_records())} records read; " \
                     "2 unreadable lines skipped"


def test_each_day_row_has_the_plans_numbers_and_a_bar(tmp_path: Path) -> None:
    text = render(ban_report(tmp_path))
    for name in ("ads", "gone", "tiktok"):
        plan = planned(name)
        rows = {m[1]: m for line in section(text, name)
                if (m := re.fullmatch(r"  (\d{4}-\d\d-\d\d) +(\d+) +(\d+) *(#*) *(<- \w+)?",
                                      line))}
        assert len(rows) == 7
        most = max(a for a, _ in plan.values())
        for day, row in rows.items():
            attempts, clients = plan.get(day, (0, 0))
            assert (int(row[2]), int(row[3])) == (attempts, clients), day
            assert len(row[4]) == (round(BAR * attempts / most) if attempts else 0)
    tiktok = section(text, "tiktok")
    assert tiktok[0] == "tiktok: 22 attempts from 4 clients"
    assert tiktok[1] == "  effective 2023-03-20 00:00 CET, expires never"
    assert [line[2:12] for line in tiktok if line.endswith("<- effective")] == ["2023-03-20"]
    ads = section(text, "ads")
    assert ads[1] == "  effective 2023-01-01 00:00 UTC, expires 2023-03-23 00:00 UTC"
    # 00:00 UTC on the 23rd is 01:00 in Brussels: the 23rd
    assert [line[2:12] for line in ads if line.endswith("<- expires")] == [LAST_DAY]


def test_top_names_and_clients(tmp_path: Path) -> None:
    tiktok = section(render(ban_report(tmp_path)), "tiktok")
    at = tiktok.index(next(line for line in tiktok if line.startswith("  top names")))
    names = {line.split()[0]: int(line.split()[1]) for line in tiktok[at + 1:at + 3]}
    assert names == planned_names("tiktok")
    at = tiktok.index(next(line for line in tiktok if line.startswith("  top clients")))
    clients = [line.split() for line in tiktok[at + 1:]]
    # clients cycle 0..n-1 each day: 12 over 4, 7 over 3, 3 over 1
    assert clients == [["198.51.100.0", "9"], ["198.51.100.1", "5"],
                       ["198.51.100.2", "5"], ["198.51.100.3", "3"]]


def test_lists_without_attempts_or_dates(tmp_path: Path) -> None:
    text = render(ban_report(tmp_path))
    assert section(text, "quiet") == ["quiet: 0 attempts from 0 clients",
                                      "  effective 2023-01-01 00:00 UTC, expires never",
                                      "  no blocked attempts in this period"]
    assert section(text, "gone")[:2] == ["gone: 1 attempt from 1 client",
                                         "  not in the blocklists now: its dates are unknown"]
