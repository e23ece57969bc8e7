"""Source entries in the index: shared SourceRules values, big sources kept as hashes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.policy import index as index_module
from resolver.policy.index import HashedNames, PolicyIndex
from resolver.policy.model import Action, Location, Rule, Scope, SourceRules, Window

WINDOW = Window(datetime(2024, 1, 1, tzinfo=UTC), None)
LATER = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
BEFORE = datetime(2023, 1, 1, tzinfo=UTC).timestamp()


def group(action: Action, scope: Scope, count: int, name: str = "src") -> SourceRules:
    return SourceRules(f"vendor/{name}.txt", action, scope, "l", WINDOW,
                       Location("l.yaml", 5, 5), count)


def test_hashed_names_membership() -> None:
    names = [f"host{i}.example.net" for i in range(5000)]
    table = HashedNames(group(Action.BLOCK, Scope.EXACT, len(names)), names)
    assert all(name in table for name in names)
    assert "host5000.example.net" not in table
    assert "example.net" not in table
    assert "" not in table


@pytest.mark.parametrize("big", [False, True], ids=["dict", "hashed"])
def test_source_semantics(big: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "BIG_SOURCE", 0 if big else 10**9)
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
    assert len(index) == 5


names_strategy = st.lists(
    st.from_regex(r"[a-c]{1,2}(\.[a-c]{1,2}){0,2}", fullmatch=True), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(blocked=names_strategy, allowed=names_strategy, queries=names_strategy,
       exact=st.booleans())
def test_hashed_and_dict_agree(blocked: list[str], allowed: list[str], queries: list[str],
                               exact: bool) -> None:
    scope = Scope.EXACT if exact else Scope.SUBTREE
    sources = [(group(Action.BLOCK, scope, len(blocked), "b"), blocked),
               (group(Action.ALLOW, Scope.SUBTREE, len(allowed), "a"), allowed)]
    as_dict = PolicyIndex((), sources)
    original = index_module.BIG_SOURCE
    index_module.BIG_SOURCE = 0
    try:
        as_hashes = PolicyIndex((), sources)
    finally:
        index_module.BIG_SOURCE = original
    for name in queries:
        a, b = as_dict.lookup(name, LATER), as_hashes.lookup(name, LATER)
        assert (a is None) == (b is None), name
        if a is not None and b is not None:
            assert (a[0].action, a[1]) == (b[0].action, b[1]), name
