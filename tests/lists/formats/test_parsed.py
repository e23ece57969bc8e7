"""ParsedSource: the record every format's parser fills for one source."""

from __future__ import annotations

from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format
from resolver.policy.model import Action, Scope


def test_an_empty_record() -> None:
    out = ParsedSource(Format.HOSTS)
    assert (out.taken, out.invalid_share, out.considered) == (0, 0.0, 0)
    assert out.names_for(Action.BLOCK, Scope.EXACT) == []
    assert out.names == {}  # asking does not add an empty entry


def test_taken_counts_names_of_every_kind_and_regexes() -> None:
    out = ParsedSource(Format.ADBLOCK)
    out.names[(Action.BLOCK, Scope.SUBTREE)] = ["a.example", "a.example"]
    out.names[(Action.ALLOW, Scope.EXACT)] = ["b.example"]
    out.regexes.append((Action.BLOCK, "^ads", 7))
    assert out.taken == 4  # duplicates count: one per line
    assert out.names_for(Action.ALLOW, Scope.EXACT) == ["b.example"]


def test_invalid_share_is_of_the_considered_lines() -> None:
    out = ParsedSource(Format.DOMAINS, considered=8)
    out.invalid.extend([(1, "bad"), (5, "worse")])
    assert out.invalid_share == 0.25


def test_records_do_not_share_their_containers() -> None:
    one, two = ParsedSource(Format.DOMAINS), ParsedSource(Format.DOMAINS)
    one.skipped["x"] += 1
    one.invalid.append((1, "bad"))
    assert (two.skipped, two.invalid) == ({}, [])
