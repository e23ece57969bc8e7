"""The index's name tables: slots of plain rules, and sources kept as the hashes of their
names (membership, the fewest labels, a build in chunks, the probe the index walks)."""

from __future__ import annotations

from datetime import UTC, datetime

from resolver.policy.model import Action, Location, Rule, Scope, SourceRules, Window
from resolver.policy.name_tables import (
    CHUNK,
    HashedNames,
    Slot,
    add_entry,
    covers,
    entries,
    hashes_of,
)

WINDOW = Window(datetime(2024, 1, 1, tzinfo=UTC), None)


def group(action: Action, scope: Scope, count: int, name: str = "src") -> SourceRules:
    return SourceRules(f"vendor/{name}.txt", action, scope, "l", WINDOW,
                       Location("l.yaml", 5, 5), count)


def test_hashed_names_membership() -> None:
    names = [f"host{i}.example.net" for i in range(5000)]
    table = HashedNames(group(Action.BLOCK, Scope.EXACT, len(names)), names)
    assert all(name in table for name in names)
    assert "host5000.example.net" not in table
    assert "example.net" not in table
    assert table.min_labels == 3


def test_hashes_of_spans_chunks_and_counts_the_fewest_labels() -> None:
    names = [f"h{i}.a.example" for i in range(CHUNK + 10)] + ["b.example"]
    got = hashes_of(names)
    assert list(got.hashes) == [hash(n) for n in names]
    assert got.min_labels == 2  # b.example, in the second chunk
    assert hashes_of([]).min_labels == 1 and len(hashes_of([]).hashes) == 0
    table = HashedNames(group(Action.BLOCK, Scope.EXACT, len(names)), got)
    assert all(name in table for name in names) and "c.example" not in table


def test_the_probe_is_the_tables_parts_and_whether_it_covers_below() -> None:
    below = group(Action.BLOCK, Scope.SUBTREE, 1)
    table = HashedNames(below, ["ads.example"])
    assert table.probe() == (table.hashes, below, 2, True)
    assert HashedNames(group(Action.BLOCK, Scope.EXACT, 1), ["ads.example"]).probe()[3] is False


def test_covers_the_name_and_with_a_subtree_the_names_below() -> None:
    hashes = HashedNames(group(Action.BLOCK, Scope.SUBTREE, 1), ["ads.example"]).hashes
    assert covers(hashes, False, "ads.example")
    assert not covers(hashes, False, "x.ads.example")
    assert covers(hashes, True, "x.y.ads.example")
    assert not covers(hashes, True, "example") and not covers(hashes, True, "ads.example.org")


def test_a_slot_holds_one_entry_then_a_tuple_and_never_the_same_entry_twice() -> None:
    first = Rule("a.example", Action.BLOCK, "l", WINDOW, Location("l.yaml", 1))
    second = Rule("a.example", Action.ALLOW, "m", WINDOW, Location("m.yaml", 1))
    table: dict[str, Slot] = {}
    add_entry(table, "a.example", first)
    assert table["a.example"] is first and entries(table["a.example"]) == (first,)
    add_entry(table, "a.example", first)
    assert table["a.example"] is first
    add_entry(table, "a.example", second)
    add_entry(table, "a.example", second)
    assert table.get("a.example") == (first, second)  # in the order they came
    assert entries(table["a.example"]) == (first, second)
