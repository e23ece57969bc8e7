"""Audiences: which clients a list applies to, and the index deciding per client."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.lists.load import load_policy
from resolver.policy.audience import NO_GROUPS, Audience, group_of
from resolver.policy.index import PolicyIndex, decide_by_scan
from resolver.policy.model import Action
from tests.policy.assertions import utc, write_lists

PRESS = frozenset({"press-office"})
GUESTS = frozenset({"guests"})
BOTH = frozenset({"press-office", "guests"})
GROUPS = ("press-office", "guests", "staff")


@pytest.mark.parametrize(("audience", "reached"), [
    (Audience(("guests",)), {GUESTS, BOTH}),
    (Audience((), ("press-office",)), {NO_GROUPS, GUESTS}),
    (Audience(("guests",), ("press-office",)), {GUESTS}),
    (Audience(("guests", "press-office")), {GUESTS, PRESS, BOTH}),
])
def test_an_audience_reaches_members_of_only_minus_members_of_excluded(
        audience: Audience, reached: set[frozenset[str]]) -> None:
    for groups in (NO_GROUPS, PRESS, GUESTS, BOTH):
        assert audience.reaches(groups) is (groups in reached), (audience, groups)


def test_the_group_named_is_the_first_of_only_the_client_is_in() -> None:
    audience = Audience(("staff", "guests", "press-office"))
    assert audience.group_for(BOTH) == "guests"
    assert audience.group_for(PRESS) == "press-office"
    assert Audience((), ("guests",)).group_for(PRESS) == ""
    assert group_of(None, BOTH) == ""
    assert group_of(audience, GUESTS) == "guests"


def test_an_audience_reads_as_people_say_it() -> None:
    assert Audience(("guests",)).text == "only guests"
    assert Audience((), ("press-office", "guests")).text == \
        "everyone except press-office, guests"
    assert Audience(("guests",), ("press-office",)).text == "only guests except press-office"


LISTS = {
    "tiktok.yaml": """
        name: tiktok
        effective: 2023-03-20
        except_clients: [press-office]
        domains: [tiktok.com, "*.tiktokcdn.com", {regex: '^ads[0-9]+\\.example$'}]
        sources:
          - path: names.txt
            format: domains
    """,
    "press.yaml": """
        name: press-rules
        effective: 2023-03-20
        clients: [press-office]
        domains: [ads.tiktok.com]
        allow: [www.tiktok.com]
    """,
    "guests.yaml": """
        name: guest-ban
        effective: 2023-03-20
        clients: [guests]
        domains: [tiktok.com, streaming.example]
    """,
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> PolicyIndex:
    directory = write_lists(tmp_path_factory.mktemp("lists"), LISTS)
    (directory / "names.txt").write_text("tiktokv.com\n", encoding="utf-8")
    result = load_policy(directory, groups=GROUPS)
    assert result.policy is not None and result.policy.index is not None, result.problems
    return result.policy.index


AT = utc(2024, 1, 1)


def decided(index: PolicyIndex, name: str, groups: frozenset[str]) -> tuple[str, str] | None:
    found = index.lookup(name, AT, groups)
    return None if found is None else (found[0].action.value, found[0].list_name)


@pytest.mark.parametrize(("name", "groups", "expected"), [
    # the ban exempts the press office: nothing else decides for it
    ("www.tiktok.com", NO_GROUPS, ("block", "tiktok")),
    ("www.tiktok.com", PRESS, ("allow", "press-rules")),
    ("v16.tiktokcdn.com", PRESS, None),  # a glob of the exempting list
    ("ads7.example", PRESS, None),  # a regex of it
    ("tiktokv.com", PRESS, None),  # a source's name
    ("tiktokv.com", GUESTS, ("block", "tiktok")),
    # an exempted group falls through to the next best rule, from another list
    ("ads.tiktok.com", PRESS, ("block", "press-rules")),
    ("ads.tiktok.com", NO_GROUPS, ("block", "tiktok")),
    # a list of the guests only
    ("streaming.example", GUESTS, ("block", "guest-ban")),
    ("streaming.example", NO_GROUPS, None),
    ("streaming.example", PRESS, None),
    # a client in both groups: exempt from `tiktok`, reached by `guest-ban`
    ("tiktok.com", BOTH, ("block", "guest-ban")),
    ("www.tiktok.com", BOTH, ("allow", "press-rules")),
])
def test_the_index_decides_for_the_clients_groups(index: PolicyIndex, name: str,
                                                   groups: frozenset[str],
                                                   expected: tuple[str, str] | None) -> None:
    assert decided(index, name, groups) == expected


def test_the_index_says_which_names_depend_on_the_client(index: PolicyIndex) -> None:
    assert index.audiences
    assert index.depends_on_client("www.tiktok.com")
    assert index.depends_on_client("streaming.example")
    assert not index.depends_on_client("example.org")


def test_an_index_without_audiences_says_no_name_depends_on_the_client(
        tmp_path: Path) -> None:
    directory = write_lists(tmp_path, {"a.yaml": "effective: 2023-03-20\ndomains: [a.example]"})
    result = load_policy(directory)
    assert result.policy is not None and result.policy.index is not None
    assert not result.policy.index.audiences
    assert not result.policy.index.depends_on_client("a.example")


def test_the_index_agrees_with_the_brute_force_scan_for_every_group_set(
        index: PolicyIndex, tmp_path: Path) -> None:
    directory = write_lists(tmp_path, {k: v for k, v in LISTS.items() if k != "tiktok.yaml"})
    result = load_policy(directory, groups=GROUPS)
    assert result.policy is not None and result.policy.index is not None
    rules = result.policy.rules
    names = ["tiktok.com", "www.tiktok.com", "ads.tiktok.com", "x.ads.tiktok.com",
             "streaming.example", "example.org"]
    for groups in (NO_GROUPS, PRESS, GUESTS, BOTH, frozenset({"staff"})):
        for name in names:
            found = result.policy.index.decide(name, AT, groups)
            scanned = decide_by_scan(rules, name, AT, groups)
            assert found == scanned, (name, groups)
            assert found is None or found.action in (Action.BLOCK, Action.ALLOW)
