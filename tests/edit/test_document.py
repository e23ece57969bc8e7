"""A list file as the editor sees it: exact text, node spans, entries, names checked as lint."""

from __future__ import annotations

import pytest

from resolver.edit.document import (
    SECTION,
    EditError,
    Entry,
    Listed,
    check_name,
    entries,
    entry_name,
    find_section,
    read_document,
    section_items,
)
from resolver.lists.problems import Problem
from resolver.policy.model import Action, Location

TEXT = """\
name: social
effective: 2023-03-20
domains:
  - TikTok.com
  - domain: later.example
    effective: 2023-04-01
    expires: ~
  - {domain: "a..b"}
allow:
"""


def test_entries_in_file_order_with_their_lines_and_dates() -> None:
    doc = read_document("social.yaml", TEXT)
    assert entries(doc, Action.BLOCK) == [
        Listed("tiktok.com", None, None, 4),
        Listed("later.example", "2023-04-01", None, 5),
        Listed(None, None, None, 8),  # not a name: kept, so that its line is known
    ]
    assert entries(doc, Action.ALLOW) == []
    assert SECTION == {Action.BLOCK: "domains", Action.ALLOW: "allow"}


def test_sections_found_or_not() -> None:
    doc = read_document("social.yaml", TEXT)
    assert find_section(doc, "expires") is None
    found = find_section(doc, "domains")
    assert found is not None and found[0].value == "domains"
    assert section_items(doc, "allow") == [] and section_items(doc, "nothing") == []
    with pytest.raises(EditError, match=r"social\.yaml:2: `effective` is not a list of names"):
        section_items(doc, "effective")


def test_the_newline_of_the_file_is_kept() -> None:
    assert read_document("a.yaml", TEXT).newline == "\n"
    assert read_document("a.yaml", TEXT.replace("\n", "\r\n")).newline == "\r\n"


@pytest.mark.parametrize(("text", "said"), [
    ("- a\n- b\n", "must be a mapping"),
    ("{name: a, domains: [b]}\n", "must be a mapping"),
    ("name: [a\n", "cannot be read for editing"),
])
def test_what_is_not_a_block_mapping_cannot_be_edited(text: str, said: str) -> None:
    with pytest.raises(EditError, match=said):
        read_document("a.yaml", text)


def test_names_are_checked_as_lint_checks_them() -> None:
    assert check_name("WWW.TikTok.COM.") == "www.tiktok.com"
    with pytest.raises(EditError, match="empty label"):
        check_name("a..b")
    with pytest.raises(EditError, match="looks like a URL"):
        check_name("https://tiktok.com/")
    assert entry_name("Bücher.example") == "xn--bcher-kva.example"
    assert entry_name("a..b") is None and entry_name(None) is None


def test_an_entry_is_dated_when_it_has_either_date() -> None:
    assert not Entry("a.example").dated
    assert Entry("a.example", effective="2023-01-01").dated
    assert Entry("a.example", expires="2023-01-01").dated
    problem = Problem(Location("a.yaml", 1), "bad")
    error = EditError("no", [problem])
    assert (str(error), error.problems) == ("no", (problem,))
