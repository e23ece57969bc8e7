"""Before an edit is written: the target list, the values given, the directory afterwards."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from resolver.edit.checks import (
    EditDirectory,
    check_window,
    checked_edit,
    checked_names,
    checked_new,
    find_target,
    load_policy_with,
    new_warnings,
    read_exactly,
    rule_changes,
    same_dates,
    stripped,
)
from resolver.edit.document import EditError, Entry, Listed
from resolver.policy.model import Action
from tests.policy.assertions import write_lists

SOCIAL = """
    name: social
    reference: r
    effective: 2023-03-20
    domains:
      - tiktok.com
"""
BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.fixture
def where(tmp_path: Path) -> EditDirectory:
    write_lists(tmp_path / "lists", {"social.yaml": SOCIAL})
    return EditDirectory(tmp_path / "lists", "UTC", tmp_path / "cache")


def test_find_target_gives_the_list_its_file_and_exact_text(where: EditDirectory) -> None:
    (where.blocklists / "social.yaml").write_bytes(
        (where.blocklists / "social.yaml").read_bytes().replace(b"\n", b"\r\n"))
    target = find_target(where, "social")
    assert target.blocklist.name == "social"
    assert target.path == where.blocklists / "social.yaml"
    assert target.text.count("\r\n") == 5 and target.document.newline == "\r\n"
    assert str(target.tz) == "UTC"


def test_a_list_that_is_not_there_is_refused_with_a_suggestion(where: EditDirectory) -> None:
    with pytest.raises(EditError, match=r"no list named 'socail' in .*; did you mean social\?"):
        find_target(where, "socail")


def test_a_directory_with_errors_is_not_edited(where: EditDirectory) -> None:
    (where.blocklists / "bad.yaml").write_text("effective: 2023-03-20\ndomains: [a..b]\n")
    with pytest.raises(EditError) as refused:
        find_target(where, "social")
    assert str(refused.value).startswith("1 error(s) in ")
    assert len(refused.value.problems) == 1


def test_checked_names_normalise_drop_duplicates_and_name_every_bad_one() -> None:
    assert checked_names(["TikTok.com.", "tiktok.com", "bücher.example"]) == [
        "tiktok.com", "xn--bcher-kva.example"]
    with pytest.raises(EditError) as refused:
        checked_names(["a..b", "ok.example", "https://x.example/"])
    lines = str(refused.value).splitlines()
    assert lines[0].startswith("cannot use 'a..b': ")
    assert lines[1].startswith("cannot use 'https://x.example/': ")
    assert lines[2] == "nothing was changed"


def test_check_window_and_same_dates() -> None:
    check_window("2023-01-01", "2023-02-01", BRUSSELS)
    check_window(None, "2023-02-01", BRUSSELS)
    with pytest.raises(EditError, match="--expires must be after --effective"):
        check_window("2023-02-01", "2023-02-01", BRUSSELS)
    with pytest.raises(EditError, match="--effective: "):
        check_window("someday", None, BRUSSELS)
    listed = Listed("a.example", "2023-03-20", None, 4)
    assert same_dates(listed, Entry("a.example", effective="2023-03-20T00:00"), BRUSSELS)
    assert not same_dates(listed, Entry("a.example"), BRUSSELS)
    assert stripped("  x ") == "x" and stripped(None) is None


def test_read_exactly_keeps_line_endings_and_refuses_what_it_cannot_read(
        tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"a: 1\r\n")
    assert read_exactly(tmp_path / "a.yaml") == "a: 1\r\n"
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(EditError, match="cannot read"):
        read_exactly(tmp_path / "b.yaml")


def test_the_directory_as_it_would_be_is_loaded_and_its_problems_name_the_real_one(
        where: EditDirectory) -> None:
    path = where.blocklists / "social.yaml"
    edited = path.read_text() + "  - a..b\n"
    result = load_policy_with(where.blocklists, path, edited)
    assert result.policy is None
    (problem,) = result.errors
    assert problem.location.file == str(path)
    assert path.read_text().count("a..b") == 0  # nothing was written
    assert not list(where.blocklists.parent.glob(".dnsfence-edit-*"))


def test_checked_edit_accepts_exactly_the_change_meant(where: EditDirectory) -> None:
    target = find_target(where, "social")
    text = target.text + "  - later.example\n"
    added = Counter({("later.example", Action.BLOCK): 1})
    _, after = checked_edit(where, target, text, added, Counter())
    assert [r.pattern for r in after.rules] == ["tiktok.com", "later.example"]
    with pytest.raises(EditError, match="internal error"):
        checked_edit(where, target, text, Counter(), Counter())


def test_checked_new_and_new_warnings(where: EditDirectory) -> None:
    before = load_policy_with(where.blocklists, where.blocklists / "x.yaml", "")
    path = where.blocklists / "video.yaml"
    loaded, blocklist = checked_new(where, path, "reference: r\neffective: 2023-03-20\n"
                                    "domains: [v.example, www.v.example]\n", "video")
    assert blocklist.name == "video"
    assert [p.message.split(" is ")[0] for p in new_warnings(before, loaded, path)] == \
        ["'www.v.example'"]
    with pytest.raises(EditError, match="would have 1 error"):
        checked_new(where, path, "effective: 2023-03-20\ndomains: [a..b]\n", "video")


def test_rule_changes_count_what_was_added_and_removed(where: EditDirectory) -> None:
    target = find_target(where, "social")
    _, after = checked_new(where, where.blocklists / "social.yaml",
                           "name: social\nreference: r\neffective: 2023-03-20\n"
                           "domains: [b.example]\nallow: [c.example]\n", "social")
    assert rule_changes(target.blocklist, after) == (
        Counter({("b.example", Action.BLOCK): 1, ("c.example", Action.ALLOW): 1}),
        Counter({("tiktok.com", Action.BLOCK): 1}))
    assert rule_changes(None, after)[1] == Counter()


def test_a_list_with_a_source_never_downloaded_is_edited_as_the_server_serves_it(
        tmp_path: Path) -> None:
    write_lists(tmp_path / "lists", {"social.yaml": SOCIAL + """
    sources:
      - url: https://lists.example/social.txt
"""})
    strict = EditDirectory(tmp_path / "lists", "UTC", tmp_path / "cache")
    with pytest.raises(EditError, match="1 error"):
        find_target(strict, "social")
    where = EditDirectory(tmp_path / "lists", "UTC", tmp_path / "cache", allow_missing=True)
    target = find_target(where, "social")
    assert "  - tiktok.com\n" in target.text
    text = target.text.replace("  - tiktok.com\n", "  - tiktok.com\n  - tiktok.net\n")
    loaded, after = checked_edit(where, target, text, Counter({("tiktok.net", Action.BLOCK): 1}),
                                 Counter())
    assert [r.pattern for r in after.rules] == ["tiktok.com", "tiktok.net"]
    assert [p.severity for _, p in loaded.missing] == ["warning"]
