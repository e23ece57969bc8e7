"""The HTML page: self-contained, escaped, with the chart and the same numbers as the text."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from resolver.report.html_page import page
from resolver.report.summary import DayCount, ListSummary, ReadFigures, Report
from tests.report.ban_log import HOSTILE, ban_report, planned, planned_names


class Page(HTMLParser):
    """Every tag with its attributes, and the tables' cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parsed(tmp_path: Path) -> tuple[str, Page]:
    text = page(ban_report(tmp_path))
    found = Page()
    found.feed(text)
    return text, found


def test_nothing_is_fetched_and_no_script_runs(tmp_path: Path) -> None:
    text, found = parsed(tmp_path)
    names = {tag for tag, _ in found.tags}
    assert {"script", "img", "link", "iframe", "object", "embed"}.isdisjoint(names)
    assert all(key not in ("src", "href") and not key.startswith("on")
               for _, attrs in found.tags for key in attrs)
    assert "url(" not in text and "@import" not in text
    [csp] = [a["content"] for t, a in found.tags if a.get("http-equiv") ==
             "Content-Security-Policy"]
    assert csp is not None and csp.startswith("default-src 'none'")
    assert "svg" in names and "rect" in names


def test_a_hostile_name_is_text_not_markup(tmp_path: Path) -> None:
    text, found = parsed(tmp_path)
    assert HOSTILE not in text
    cells = [cell for table in found.tables for row in table for cell in row]
    assert HOSTILE in cells  # shown as the literal name


def test_tables_hold_the_plans_numbers(tmp_path: Path) -> None:
    _, found = parsed(tmp_path)
    day_tables = [t for t in found.tables if t[0] == ["day", "attempts", "clients"]]
    name_tables = [t for t in found.tables if t[0] == ["top names", "attempts"]]
    # ads, gone, tiktok have attempts; quiet has no tables
    assert len(day_tables) == len(name_tables) == 3
    for list_name, days, names in zip(("ads", "gone", "tiktok"), day_tables, name_tables,
                                      strict=True):
        plan = planned(list_name)
        assert {row[0]: (int(row[1]), int(row[2])) for row in days[1:] if row[1] != "0"} == plan
        assert {row[0]: int(row[1]) for row in names[1:]} == planned_names(list_name)


def test_the_dates_are_in_the_text(tmp_path: Path) -> None:
    text, _ = parsed(tmp_path)
    assert "effective 2023-03-20 00:00 CET, expires never" in text
    assert "not in the blocklists now" in text


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    text, _ = parsed(tmp_path)
    assert "1 attempt from 1 client;" in text  # the list no longer in the blocklists
    assert "22 attempts from 4 clients;" in text


def test_a_warning_periods_answers_get_a_column_of_their_own() -> None:
    entry = ListSummary("video", True, "UTC", datetime(2023, 3, 20, tzinfo=UTC), None, 1, 1,
                        None, None, (DayCount("2023-03-19", 0, 0, 3),
                                     DayCount("2023-03-20", 1, 1, 0)), (), (), False, 3)
    report = Report("UTC", None, None, datetime(2023, 3, 21, tzinfo=UTC),
                    ReadFigures("q.jsonl", (), 4, 4, 0, 0), "2023-03-19", "2023-03-20",
                    (entry,))
    html = page(report)
    assert "<th>observed</th>" in html
    assert '<td>2023-03-19</td><td class="n">0</td><td class="n">0</td><td class="n">3</td>' \
        in html
