"""Source entries in the index: every name of a source is held as its hash, one shared
SourceRules value per source; decisions must equal the brute-force reference."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.policy.index import PolicyIndex, decide_by_scan
from resolver.policy.model import Action, Location, Rule, Scope, SourceRules, Window

WINDOW = Window(datetime(2024, 1, 1, tzinfo=UTC), None)
LATER = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
BEFORE = datetime(2023, 1, 1, tzinfo=UTC).timestamp()


def group(action: Action, scope: Scope, count: int, name: str = "src") -> SourceRules:
    return SourceRules(f"vendor/{name}.txt", action, scope, "l", WINDOW,
                       Location("l.yaml", 5, 5), count)


def test_source_semantics() -> None:
    blocks = group(Action.BLOCK, Scope.SUBTREE, 2, "subtree")
    exact = group(Action.BLOCK, Scope.EXACT, 1, "exact")
    allow = group(Action.ALLOW, Scope.SUBTREE, 1, "allow")
    index = PolicyIndex(
        [Rule("yaml.example.org", Action.BLOCK, "y", WINDOW, Location("y.yaml", 3))],
        [(blocks, ["ads.example.com", "tracker.example"]), (exact, ["only.example.net"]),
         (allow, ["ok.ads.example.com"])])
    found = index.lookup("a.b.ads.example.com", LATER)
    assert found is not None and found[0] is blocks and found[1] == "ads.example.com"
    assert index.lookup("only.example.net", LATER) == (exact, "only.example.net")
    assert index.lookup("www.only.example.net", LATER) is None  # exact: the name only
    ok = index.lookup("x.ok.ads.example.com", LATER)
    assert ok is not None and ok[0] is allow  # the deeper exception wins
    assert index.lookup("ads.example.com", BEFORE) is None  # not yet in force
    assert index.decide("z.yaml.example.org", LATER) is not None
    assert index.next_change("ads.example.com", BEFORE) == WINDOW.start
    assert list(index.covering("x.ads.example.com")) == [blocks]
    assert len(index) == 5


names_strategy = st.lists(
    st.from_regex(r"[a-c]{1,2}(\.[a-c]{1,2}){0,2}", fullmatch=True), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(blocked=names_strategy, allowed=names_strategy, queries=names_strategy,
       exact=st.booleans(), yaml_names=st.lists(st.sampled_from(["a", "b.a", "c.b.a", "b"]),
                                                max_size=3))
def test_sources_agree_with_brute_force(blocked: list[str], allowed: list[str],
                                        queries: list[str], exact: bool,
                                        yaml_names: list[str]) -> None:
    scope = Scope.EXACT if exact else Scope.SUBTREE
    yaml_rules = [Rule(n, Action.ALLOW, "y", WINDOW, Location("y.yaml", 1)) for n in yaml_names]
    index = PolicyIndex(yaml_rules, [(group(Action.BLOCK, scope, len(blocked), "b"), blocked),
                                     (group(Action.ALLOW, Scope.SUBTREE, len(allowed), "a"),
                                      allowed)])
    # the same entries as individual rules, decided by scanning every one of them
    expanded = yaml_rules + \
        [Rule(n, Action.BLOCK, "l", WINDOW, Location("b"), scope=scope) for n in blocked] + \
        [Rule(n, Action.ALLOW, "l", WINDOW, Location("a")) for n in allowed]
    for name in queries:
        got, want = index.lookup(name, LATER), decide_by_scan(expanded, name, LATER)
        assert (got is None) == (want is None), name
        if got is not None and want is not None:
            assert got[0].action is want.action, name
            assert got[1] == want.pattern, name
