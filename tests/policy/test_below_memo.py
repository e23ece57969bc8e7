"""The `below` memo (what names below one parent share): `below_of` keeps what the walk from
a parent down finds, and `PolicyIndex.lookup` with the memo decides exactly as the plain
walk: the same rule object and the same pattern, for every kind of rule, window, audience
and client group, with the memo shared by many names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.policy.audience import NO_GROUPS, Audience
from resolver.policy.below_memo import BELOW_MAX, ONCE, Below, below_of, rank_of, split
from resolver.policy.index import PolicyIndex
from resolver.policy.model import (
    Action,
    Location,
    RegexRule,
    Rule,
    Scope,
    SourceRules,
    Window,
)
from resolver.policy.name_tables import HashedNames, Probe, Slot, add_entry

_LABELS = ["a", "b", "ab", "c"]
_INSTANTS = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(3)]
_GROUP_SETS = [NO_GROUPS, frozenset({"staff"}), frozenset({"press"}),
               frozenset({"staff", "press"})]

_windows = st.builds(Window, st.none() | st.sampled_from(_INSTANTS),
                     st.none() | st.sampled_from(_INSTANTS))
_audiences = st.none() | st.sampled_from([
    Audience(only=("staff",)), Audience(excluded=("press",)),
    Audience(only=("staff",), excluded=("press",))])


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.sampled_from(_LABELS), min_size=1, max_size=4))
    kind = draw(st.sampled_from(["plain", "plain", "wildcard", "glob", "glob"]))
    if kind == "wildcard":
        labels = ["*", *labels]
    elif kind == "glob":
        labels[draw(st.integers(0, len(labels) - 1))] = draw(
            st.sampled_from(["*", "a*", "*b", "a*b"]))
    return ".".join(labels)


_rules = st.builds(
    lambda pattern, action, window, exact, audience, n: Rule(
        pattern, action, f"list{n}", window, Location("x.yaml", n + 1),
        scope=Scope.EXACT if exact else Scope.SUBTREE, audience=audience),
    _patterns(), st.sampled_from(Action), _windows, st.booleans(), _audiences,
    st.integers(0, 3))
_names = st.lists(st.sampled_from(_LABELS), min_size=1, max_size=6).map(".".join)


@st.composite
def _sources(draw: st.DrawFn) -> tuple[SourceRules, list[str]]:
    names = draw(st.lists(_names, min_size=1, max_size=8))
    source = SourceRules(f"s{draw(st.integers(0, 9))}.txt", draw(st.sampled_from(Action)),
                         draw(st.sampled_from(Scope)), "src", draw(_windows),
                         Location("s.yaml", 2), len(names), audience=draw(_audiences))
    return source, names


_regexes = st.builds(
    lambda pattern, action, window, audience: RegexRule(pattern, action, "rx", window,
                                                        Location("r.yaml", 3),
                                                        audience=audience),
    st.sampled_from([r"^a\.", r"b$", r"ab\.c", r"^c(\.|$)"]), st.sampled_from(Action), _windows,
    _audiences)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_rules, max_size=14), st.lists(_sources(), max_size=3),
       st.lists(_regexes, max_size=2), st.lists(_names, min_size=1, max_size=25),
       st.lists(st.sampled_from([*_INSTANTS, _INSTANTS[1] + timedelta(hours=1)]), min_size=1,
                max_size=2))
def test_a_memo_of_parents_changes_no_decision(
        rules: list[Rule], sources: list[tuple[SourceRules, list[str]]],
        regexes: list[RegexRule], names: list[str], instants: list[datetime]) -> None:
    index = PolicyIndex(rules, sources, regexes)
    for instant in instants:
        at = instant.timestamp()
        for groups in _GROUP_SETS:
            memo: dict[str, Below] = {}
            for name in names + names:  # the second time round, every parent is known
                plain = index.lookup(name, at, groups)
                memoised = index.lookup(name, at, groups, below=memo)
                assert (plain is None) == (memoised is None), name
                if plain is not None and memoised is not None:
                    assert memoised[0] is plain[0] and memoised[1] == plain[1], name


def test_a_glob_exception_above_beats_a_block_of_the_name_itself() -> None:
    """The name's own level does not end the search: a glob keyed higher up may be as deep
    as the name, and an exception of equal depth wins."""
    window = Window(_INSTANTS[0], None)
    index = PolicyIndex([Rule("a.b", Action.BLOCK, "t", window, Location("t.yaml", 1)),
                         Rule("*.b", Action.ALLOW, "t", window, Location("t.yaml", 2))])
    at = _INSTANTS[1].timestamp()
    memo: dict[str, Below] = {}
    for name in ("a.b", "x.b", "a.b"):  # the parent found, then known
        found = index.lookup(name, at, below=memo)
        assert found is not None and found[0].action is Action.ALLOW
        assert found == index.lookup(name, at)
    assert list(memo) == ["b"]


def test_siblings_share_their_parent_and_the_memo_stays_bounded() -> None:
    window = Window(_INSTANTS[0], None)
    index = PolicyIndex([Rule("tiktok.com", Action.BLOCK, "t", window, Location("t.yaml", 1)),
                         Rule("v*.tiktokcdn-eu.com", Action.BLOCK, "t", window,
                              Location("t.yaml", 2))])
    at = _INSTANTS[1].timestamp()
    memo: dict[str, Below] = {}
    for n in range(3):
        found = index.lookup(f"r{n}.www.tiktok.com", at, below=memo)
        assert found is not None and found[1] == "tiktok.com"
    assert list(memo) == ["www.tiktok.com"]
    glob = index.lookup("v16.tiktokcdn-eu.com", at, below=memo)
    assert glob is not None and glob[1] == "v*.tiktokcdn-eu.com"
    assert index.lookup("x16.tiktokcdn-eu.com", at, below=memo) is None
    for n in range(BELOW_MAX + 5):
        index.lookup(f"x.p{n}.example", at, below=memo)
    assert 0 < len(memo) <= BELOW_MAX


def _rule(pattern: str, action: Action = Action.BLOCK, window: Window | None = None,
          audience: Audience | None = None) -> Rule:
    return Rule(pattern, action, "t", window or Window(_INSTANTS[0], None), Location("t.yaml", 1),
                audience=audience)


def test_below_of_keeps_the_best_plain_rule_above_and_the_globs_in_force() -> None:
    block = _rule("tiktok.com")
    exception = _rule("www.tiktok.com", Action.ALLOW)
    subtree: dict[str, Slot] = {}
    for rule in (block, exception):
        add_entry(subtree, rule.pattern, rule)
    near, far, last = _rule("v*.www.tiktok.com"), _rule("*.com"), _rule("tiktok.*")
    later = _rule("a*.www.tiktok.com", window=Window(_INSTANTS[2], None))
    staff_only = _rule("b*.www.tiktok.com", audience=Audience(only=("staff",)))
    globs = {"www.tiktok.com": (near, later, staff_only), "com": (far,), "": (last,)}
    at = _INSTANTS[1].timestamp()
    got = below_of(subtree, (), globs, "www.tiktok.com", 3, at, NO_GROUPS)
    assert got == (exception, rank_of(exception, 3), "www.tiktok.com", (near, far, last), 3)
    staff = below_of(subtree, (), globs, "www.tiktok.com", 3, at, frozenset({"staff"}))
    assert staff[3] == (near, staff_only, far, last)
    assert below_of({}, (), {}, "www.tiktok.com", 3, at, NO_GROUPS) == (None, -1, "", (), 3)


def test_below_of_leaves_out_what_only_the_parent_itself_matches() -> None:
    """An exact source of the parent decides the parent, never a name below it."""
    window = Window(_INSTANTS[0], None)

    def source(scope: Scope) -> SourceRules:
        return SourceRules(f"{scope.name}.txt", Action.BLOCK, scope, "src", window,
                           Location("s.yaml", 2), 1)

    exact, below = source(Scope.EXACT), source(Scope.SUBTREE)
    at = _INSTANTS[1].timestamp()
    hashed: tuple[Probe, ...] = (HashedNames(exact, ["ads.example"]).probe(),)
    assert below_of({}, hashed, {}, "ads.example", 2, at, NO_GROUPS) == (None, -1, "", (), 2)
    hashed = (*hashed, HashedNames(below, ["example"]).probe())
    assert below_of({}, hashed, {}, "ads.example", 2, at, NO_GROUPS) == (
        below, rank_of(below, 1), "example", (), 2)


def test_a_parent_seen_once_is_marked_and_the_next_name_below_it_makes_its_below() -> None:
    index = PolicyIndex([_rule("tiktok.com"), _rule("v*.tiktok.com")])
    at = _INSTANTS[1].timestamp()
    memo: dict[str, Below] = {}
    index.lookup("a.tiktok.com", at, below=memo)
    assert memo == {"tiktok.com": ONCE}
    index.lookup("b.tiktok.com", at, below=memo)
    shared = memo["tiktok.com"]
    assert shared != ONCE and shared[2] == "tiktok.com" and len(shared[3]) == 1
    assert shared[4] == 2  # the parent's labels: a name below it is not counted again


def test_split_decides_from_the_names_own_level_and_its_parents_below() -> None:
    block, exception = _rule("example"), _rule("ok.example", Action.ALLOW)
    subtree: dict[str, Slot] = {}
    for rule in (block, exception):
        add_entry(subtree, rule.pattern, rule)
    at = _INSTANTS[1].timestamp()
    memo: dict[str, Below] = {"example": ONCE}
    found = split(subtree, (), {}, "ok.example", 2, at, NO_GROUPS, "example", ONCE, memo,
                  None, -1, "")
    assert found == (exception, rank_of(exception, 2), "ok.example")
    assert memo == {"example": ONCE}  # decided at its own level: the parent's walk not needed
    found = split(subtree, (), {}, "ads.example", 2, at, NO_GROUPS, "example", ONCE, memo,
                  None, -1, "")
    assert found == (block, rank_of(block, 1), "example")
    assert memo == {"example": (block, rank_of(block, 1), "example", (), 1)}
