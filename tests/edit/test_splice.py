"""Editing list files: each change touches only its own lines, in every layout admins write."""

from __future__ import annotations

import difflib
import textwrap
from pathlib import Path

import pytest

from resolver.edit.checks import load_policy_with
from resolver.edit.document import EditError, Entry, check_name, entries, read_document
from resolver.edit.new_list import new_list_text
from resolver.edit.scalars import scalar
from resolver.edit.splice import add_entries, remove_entries
from resolver.lists.list_file import parse_list
from resolver.policy.model import Action
from tests.policy.assertions import utc, write_lists

SHIPPED = Path(__file__).resolve().parents[2] / "blocklists" / "tiktok.yaml"
TIKTOK = SHIPPED.read_bytes().decode("utf-8")
BLOCK, ALLOW = Action.BLOCK, Action.ALLOW

Change = tuple[str, list[str], list[str]]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def changes(old: str, new: str) -> list[Change]:
    """The hunks between two texts, by whole lines (line endings included):
    ('insert'|'delete'|'replace', old lines, new lines). Every line not in a hunk is
    byte-for-byte the same."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(tag, a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes()
            if tag != "equal"]


def inserted(*lines: str) -> Change:
    return ("insert", [], [line + "\n" for line in lines])


def deleted(*lines: str) -> Change:
    return ("delete", [line + "\n" for line in lines], [])


def replaced(old: str, new: str) -> Change:
    return ("replace", [old + "\n"], [new + "\n"])


def patterns(text: str, action: Action = BLOCK) -> list[str]:
    """The entries of a list's text as the loader reads them; the text must load."""
    blocklist, problems = parse_list("list.yaml", text)
    assert blocklist is not None, [str(p) for p in problems]
    return [r.pattern for r in blocklist.rules if r.action is action]


def add(text: str, *new: Entry | str, action: Action = BLOCK) -> str:
    wanted = [e if isinstance(e, Entry) else Entry(e) for e in new]
    return add_entries(read_document("list.yaml", text), action, wanted)


def remove(text: str, *names: str, action: Action = BLOCK) -> str:
    return remove_entries(read_document("list.yaml", text), action, names)


def line_after(text: str, line: str) -> str:
    """The line that follows `line` in `text`."""
    lines = text.splitlines()
    return lines[lines.index(line) + 1]


# --- the shipped list: aligned trailing comments, section comments, a folded reference ----

def test_adding_to_the_shipped_list_inserts_one_line_after_the_last_entry() -> None:
    new = add(TIKTOK, "tiktok.net")
    assert changes(TIKTOK, new) == [inserted("  - tiktok.net")]
    assert line_after(new, TIKTOK.splitlines()[-1]) == "  - tiktok.net"
    assert patterns(new) == [*patterns(TIKTOK), "tiktok.net"]


def test_a_reference_is_a_comment_aligned_with_the_comments_above() -> None:
    new = add(TIKTOK, Entry("tiktok.net", comment="ticket  4711:\n board decision"))
    line = "  - tiktok.net" + " " * 33 + "# ticket 4711: board decision"
    assert changes(TIKTOK, new) == [inserted(line)]
    column = TIKTOK.splitlines()[-1].index("#")
    assert line.index("#") == column


def test_a_dated_entry_is_a_mapping_under_the_dash() -> None:
    new = add(TIKTOK, Entry("tiktok.net", effective="2023-04-01", expires="2024-01-01T08:00"))
    assert changes(TIKTOK, new) == [inserted("  - domain: tiktok.net",
                                             "    effective: 2023-04-01",
                                             "    expires: 2024-01-01T08:00")]
    blocklist, _ = parse_list("list.yaml", new, "UTC")
    assert blocklist is not None
    rule = blocklist.rules[-1]
    assert (rule.pattern, rule.own_dates) == ("tiktok.net", True)
    assert rule.window.effective == utc(2023, 3, 31, 22)  # Brussels, the list's zone
    assert rule.window.expires == utc(2024, 1, 1, 7)


def test_several_entries_and_a_wildcard_which_is_quoted() -> None:
    new = add(TIKTOK, "a.example", "*.b.example")
    assert changes(TIKTOK, new) == [inserted("  - a.example", '  - "*.b.example"')]
    assert patterns(new)[-2:] == ["a.example", "*.b.example"]


def test_removing_deletes_only_the_entry_lines_and_keeps_section_comments() -> None:
    new = remove(TIKTOK, "amemv.com", "p16-tiktok-*.ibyteimg.com", "business-tiktok.com")
    lines = TIKTOK.splitlines()

    def line_of(name: str) -> str:
        return next(x for x in lines if f"- {name} " in x or f'- "{name}"' in x)

    assert changes(TIKTOK, new) == [deleted(line_of("amemv.com")),
                                    deleted(line_of("p16-tiktok-*.ibyteimg.com")),
                                    deleted(line_of("business-tiktok.com"))]
    assert "# --- AdGuard Home blocked service" in new
    assert len(patterns(new)) == len(patterns(TIKTOK)) - 3


def test_the_first_allow_entry_adds_the_section_at_the_end() -> None:
    new = add(TIKTOK, Entry("newsroom.tiktok.com", comment="press pages"), action=ALLOW)
    assert changes(TIKTOK, new) == [inserted("allow:", "  - newsroom.tiktok.com  # press pages")]
    assert patterns(new, ALLOW) == ["newsroom.tiktok.com"]


def test_adding_and_removing_again_gives_back_the_shipped_file_byte_for_byte() -> None:
    for action in (BLOCK, ALLOW):
        new = add(TIKTOK, Entry("x.example", expires="2030-01-01", comment="c"), action=action)
        if action is BLOCK:
            assert remove(new, "x.example", action=action) == TIKTOK


# --- other layouts -----------------------------------------------------------------------------

FLOW = dedent("""
    name: flow   # one line
    effective: 2023-03-20
    domains: [a.example,  'B.example']
    allow: []
""")


def test_flow_sequence_on_one_line() -> None:
    new = add(FLOW, "c.example", Entry("d.example", expires="2024-01-01T08:00"))
    assert changes(FLOW, new) == [replaced(
        "domains: [a.example,  'B.example']",
        "domains: [a.example,  'B.example',  c.example,  {domain: d.example, expires: "
        "2024-01-01T08:00}]")]
    assert patterns(new) == ["a.example", "b.example", "c.example", "d.example"]


def test_flow_sequence_empty_and_with_a_reference() -> None:
    new = add(FLOW, Entry("c.example", comment="why"), action=ALLOW)
    assert changes(FLOW, new) == [replaced("allow: []", "allow: [c.example]  # c.example: why")]
    assert patterns(new, ALLOW) == ["c.example"]


def test_flow_sequence_with_a_comment_after_it_has_no_room_for_a_reference() -> None:
    text = FLOW.replace("allow: []", "allow: []  # none yet")
    with pytest.raises(EditError, match="no room for a comment"):
        add(text, Entry("c.example", comment="why"), action=ALLOW)


@pytest.mark.parametrize(("names", "line"), [
    (["a.example"], "domains: ['B.example']"),
    (["b.example"], "domains: [a.example]"),      # matched whatever the case written
    (["a.example", "b.example"], "domains: []"),
])
def test_removing_from_a_flow_sequence(names: list[str], line: str) -> None:
    new = remove(FLOW, *names)
    assert changes(FLOW, new) == [replaced("domains: [a.example,  'B.example']", line)]


MULTILINE_FLOW = dedent("""
    effective: 2023-03-20
    domains: [
      a.example,   # first
      b.example    # second
    ]
""")


def test_flow_sequence_one_entry_per_line() -> None:
    new = add(MULTILINE_FLOW, Entry("c.example", comment="third"))
    assert changes(MULTILINE_FLOW, new) == [
        ("replace", ["  b.example    # second\n"],
         ["  b.example,    # second\n", "  c.example  # third\n"])]
    assert patterns(new) == ["a.example", "b.example", "c.example"]
    assert remove(MULTILINE_FLOW, "a.example") == MULTILINE_FLOW.replace(
        "  a.example,   # first\n", "")
    assert changes(MULTILINE_FLOW, remove(MULTILINE_FLOW, "b.example")) == [
        ("replace", ["  a.example,   # first\n", "  b.example    # second\n"],
         ["  a.example   # first\n"])]


QUOTED = dedent("""
    effective: 2023-03-20
    domains:
    - "Quoted.Example"
    -   'single.example'
    - plain.example
""")


def test_quoted_entries_and_a_sequence_at_the_key_column() -> None:
    new = add(QUOTED, "new.example")
    assert changes(QUOTED, new) == [inserted("- new.example")]
    new = remove(QUOTED, "quoted.example", "single.example")
    assert changes(QUOTED, new) == [deleted('- "Quoted.Example"', "-   'single.example'")]
    assert patterns(new) == ["plain.example"]


COMMENTS_BETWEEN = dedent("""
    ---
    # Header comment.
    effective: 2023-03-20   # the board's date
    domains:
      # first group
      - a.example   # a
      # second group

      - domain: b.example
        expires: 2024-01-01   # b ends

      # trailing comment of the section
    reference: decision 12
    ...
""")


def test_comments_between_entries_stay_where_they_are() -> None:
    new = add(COMMENTS_BETWEEN, "c.example")
    assert changes(COMMENTS_BETWEEN, new) == [inserted("  - c.example")]
    assert line_after(new, "    expires: 2024-01-01   # b ends") == "  - c.example"
    new = remove(COMMENTS_BETWEEN, "a.example", "b.example")
    assert changes(COMMENTS_BETWEEN, new) == [
        deleted("  - a.example   # a"),
        deleted("  - domain: b.example", "    expires: 2024-01-01   # b ends")]
    assert patterns(new) == []  # `domains:` with only comments under it is empty, not broken


def test_a_missing_section_goes_before_the_document_end_marker() -> None:
    new = add(COMMENTS_BETWEEN, "c.example", action=ALLOW)
    assert changes(COMMENTS_BETWEEN, new) == [inserted("allow:", "  - c.example")]
    assert new.endswith("  - c.example\n...\n")
    assert patterns(new, ALLOW) == ["c.example"]


NO_DOMAINS = dedent("""
    name: later   # entries come later
    effective: 2023-03-20
    allow:
    -  x.example
    -  y.example
""")


def test_missing_domains_is_added_in_the_layout_of_the_other_sequences() -> None:
    new = add(NO_DOMAINS, Entry("a.example", effective="2023-04-01"))
    assert changes(NO_DOMAINS, new) == [inserted("domains:", "-  domain: a.example",
                                                 "   effective: 2023-04-01")]
    assert patterns(new) == ["a.example"]


@pytest.mark.parametrize(("line", "becomes"), [
    ("domains:", "domains:"),
    ("domains: ~   # none yet", "domains:   # none yet"),
    ("domains: null", "domains:"),
])
def test_an_empty_domains_gets_its_first_entry(line: str, becomes: str) -> None:
    text = f"effective: 2023-03-20\n{line}\nallow: [x.example]\n"
    new = add(text, "a.example")
    expected = [inserted("  - a.example")] if line == becomes else [
        ("replace", [line + "\n"], [becomes + "\n", "  - a.example\n"])]
    assert changes(text, new) == expected
    assert patterns(new) == ["a.example"]


def test_windows_line_endings_are_kept_and_used_for_new_lines() -> None:
    text = "effective: 2023-03-20\r\ndomains:\r\n  - a.example  # a\r\n"
    new = add(text, Entry("b.example", expires="2024-01-01"))
    assert new == text + "  - domain: b.example\r\n    expires: 2024-01-01\r\n"
    assert remove(new, "b.example") == text
    assert remove(text, "a.example") == "effective: 2023-03-20\r\ndomains:\r\n"


def test_a_file_without_a_final_line_break() -> None:
    text = "effective: 2023-03-20\ndomains:\n  - a.example"
    assert add(text, "b.example") == text + "\n  - b.example"
    assert remove(text, "a.example") == "effective: 2023-03-20\ndomains:\n"


def test_the_dash_may_stand_alone_on_its_line() -> None:
    text = "effective: 2023-03-20\ndomains:\n  -\n    domain: a.example\n  - b.example\n"
    assert remove(text, "a.example") == "effective: 2023-03-20\ndomains:\n  - b.example\n"


@pytest.mark.parametrize("text", [TIKTOK, FLOW, MULTILINE_FLOW, QUOTED, COMMENTS_BETWEEN,
                                  NO_DOMAINS, "effective: 2023-03-20\ndomains:\n"])
@pytest.mark.parametrize("action", [BLOCK, ALLOW])
def test_add_then_remove_changes_nothing_in_any_layout(text: str, action: Action) -> None:
    new = add(text, Entry("zz.example", effective="2023-05-01"), "yy.example", action=action)
    assert patterns(new, action)[-2:] == ["zz.example", "yy.example"]
    back = remove(new, "zz.example", "yy.example", action=action)
    assert patterns(back, action) == patterns(text, action)
    if changes(text, back):  # a section added for the entries stays, empty
        assert changes(text, back) == [inserted(f"{'domains' if action is BLOCK else 'allow'}:")]


# --- reading entries, names and scalars --------------------------------------------------------

def test_entries_are_read_normalised_with_their_dates_and_lines() -> None:
    doc = read_document("list.yaml", COMMENTS_BETWEEN)
    listed = entries(doc, BLOCK)
    assert [(e.name, e.effective, e.expires, e.line) for e in listed] == [
        ("a.example", None, None, 6), ("b.example", None, "2024-01-01", 9)]
    assert entries(doc, ALLOW) == []


@pytest.mark.parametrize(("raw", "name"), [
    ("WWW.TikTok.COM.", "www.tiktok.com"),
    ("Bücher.Example", "xn--bcher-kva.example"),
    ("*.Example.com", "*.example.com"),
    ("_dmarc.example.com", "_dmarc.example.com"),
])
def test_names_are_normalised(raw: str, name: str) -> None:
    assert check_name(raw) == name


@pytest.mark.parametrize(("raw", "why"), [
    ("https://www.tiktok.com/@x", "looks like a URL; did you mean www.tiktok.com?"),
    ("tiktok.com:443", "looks like host:port"),
    ("tiktok..com", "empty label"),
    ("192.0.2.1", "is an IP address"),
    ("2001:db8::1", "is an IP address"),
    ("bad name.com", "which no DNS name holds"),
    ("", "empty"),
])
def test_invalid_names_are_refused_with_the_loaders_reason(raw: str, why: str) -> None:
    with pytest.raises(EditError, match=why.replace("?", r"\?")):
        check_name(raw)


@pytest.mark.parametrize(("value", "when", "written"), [
    ("tiktok.com", False, "tiktok.com"),
    ("*.tiktok.com", False, '"*.tiktok.com"'),
    ("null", False, '"null"'),
    ("true", False, '"true"'),
    ("2023-03-20", True, "2023-03-20"),
    ("2023-03-20T08:00+01:00", True, "2023-03-20T08:00+01:00"),
    ("2023-03-20", False, '"2023-03-20"'),
    ("a: b # c", False, '"a: b # c"'),
    ("Europe/Brussels", False, "Europe/Brussels"),
])
def test_scalars_are_plain_unless_yaml_would_read_something_else(value: str, when: bool,
                                                                 written: str) -> None:
    assert scalar(value, when=when) == written


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(EditError, match="must be a mapping"):
        read_document("list.yaml", "- a.example\n")
    with pytest.raises(EditError, match="cannot be read"):
        read_document("list.yaml", "domains: [a\n")


def test_a_section_that_is_not_a_sequence_is_refused() -> None:
    doc = read_document("list.yaml", "effective: 2023-03-20\ndomains: {a: b}\n")
    with pytest.raises(EditError, match="not a list of names"):
        add_entries(doc, BLOCK, [Entry("x.example")])


# --- new lists -----------------------------------------------------------------------------------

def test_a_new_list_reads_back_as_given_and_has_only_the_no_entries_warning() -> None:
    reference = ("European Parliament, DG ITEC note to staff: TikTok not to be used or "
                 "installed on staff devices, and web access to TikTok through the corporate "
                 "network blocked, from 20 March 2023.")
    text = new_list_text("video", effective="2023-03-20", reference=reference,
                         timezone="Europe/Brussels", expires="2024-03-20T08:00",
                         description="TikTok & co: #1 time sink")
    assert text.splitlines()[:3] == ["name: video",
                                     'description: "TikTok & co: #1 time sink"',
                                     "reference: >-"]
    assert max(len(line) for line in text.splitlines()) <= 92
    blocklist, problems = parse_list("video.yaml", text, "UTC")
    assert blocklist is not None
    assert (blocklist.name, blocklist.reference, blocklist.timezone) == (
        "video", reference, "Europe/Brussels")
    assert blocklist.description == "TikTok & co: #1 time sink"
    assert blocklist.window.effective == utc(2023, 3, 19, 23)
    assert blocklist.window.expires == utc(2024, 3, 20, 7)
    assert [p.message for p in problems] == ["list 'video' has no entries; it blocks nothing"]
    assert patterns(add(text, "tiktok.com")) == ["tiktok.com"]


# --- checking a directory as it would be ---------------------------------------------------------

def test_load_policy_with_checks_across_files_and_names_the_real_files(tmp_path: Path) -> None:
    directory = write_lists(tmp_path / "blocklists", {
        "a.yaml": "name: a\nreference: r\neffective: 2023-03-20\ndomains: [a.example]\n",
        "b.yaml": "name: b\nreference: r\neffective: 2023-03-20\ndomains: [b.example]\n",
    })
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    result = load_policy_with(directory, directory / "b.yaml",
                              "name: a\nreference: r\neffective: 2023-03-20\n", "UTC")
    assert result.policy is None
    (problem,) = result.errors
    assert str(problem.location) == f"{directory}/b.yaml:1:7"
    assert f"already used by {directory}/a.yaml:1:7" in problem.message
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before

    good = load_policy_with(directory, directory / "c.yaml",
                            "reference: r\neffective: 2023-03-20\ndomains: [c.example]\n", "UTC")
    assert good.policy is not None
    assert [b.name for b in good.policy.lists] == ["a", "b", "c"]
    assert not (directory / "c.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocklists"]  # the copy is gone



def test_load_policy_with_finds_sources_beside_and_above_the_directory(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ads.txt").write_text("ads.example\ntracker.example\n")
    directory = tmp_path / "blocklists"
    (directory / "vendor").mkdir(parents=True)
    (directory / "vendor" / "local.txt").write_text("local.example\n")
    text = dedent("""
        reference: r
        effective: 2023-03-20
        sources:
          - path: ../shared/ads.txt
            format: domains
          - path: vendor/local.txt
            format: domains
    """)
    (directory / "vendor.yaml").write_text(text)
    new = add(text, "own.example")
    result = load_policy_with(directory, directory / "vendor.yaml", new, "UTC")
    assert result.policy is not None, [str(p) for p in result.problems]
    assert result.policy.size == 4
    assert changes(text, new) == [inserted("domains:", "  - own.example")]
