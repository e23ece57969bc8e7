"""How the policy index keeps plain names: dict slots of rules, and sources as hash sets.

A YAML rule is one dict entry under its name (`Slot`); a source's million names are
kept as their hashes only (`HashedNames`), all pointing at one shared SourceRules value.
The index and its `below` memo both read these tables, so they live apart from both.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass

from resolver.policy.model import Rule, Scope, SourceRules

Entry = Rule | SourceRules
"""What a name table holds under a name: a plain rule, or a source matched by that name."""
Slot = Entry | tuple[Entry, ...]
"""One entry (the usual case, no tuple to build or loop over) or several under one name."""
Probe = tuple[set[int], SourceRules, int, bool]
"""One source as the index probes it for every suffix of every query: its hashes, its
rules, its fewest labels and whether it matches below its names (plain tuples: no
attribute lookups)."""


def add_entry(table: dict[str, Slot], key: str, entry: Entry) -> None:
    """Put `entry` under `key`, beside what is there already (once only)."""
    current = table.get(key)
    if current is None:
        table[key] = entry
    elif isinstance(current, tuple):
        if entry not in current:
            table[key] = (*current, entry)
    elif current is not entry:
        table[key] = (current, entry)


def entries(slot: Slot) -> tuple[Entry, ...]:
    return slot if isinstance(slot, tuple) else (slot,)


@dataclass(frozen=True, slots=True)
class NameHashes:
    """A big source's names reduced to what the index needs: hashes and the fewest labels."""

    hashes: array[int]
    min_labels: int


CHUNK = 8_192
"""Items handled per step of a long build. A reload builds in a thread beside the
serving loop; one C call over a million items would hold the GIL for 100 ms or more
and stall every query, so big builds go in chunks with a GIL release between them."""


def hashes_of(names: list[str]) -> NameHashes:
    """The names' hashes as raw machine integers: taken while a source is parsed, so its
    strings can be freed before the hash set is built (less memory left fragmented)."""
    hashes = array("q")
    fewest = 255
    for start in range(0, len(names), CHUNK):
        chunk = names[start:start + CHUNK]
        hashes.extend(map(hash, chunk))
        fewest = min(fewest, min(map(_dots, chunk)))
        time.sleep(0)  # let the serving thread run
    return NameHashes(hashes, fewest + 1 if names else 1)


def _dots(name: str) -> int:
    return name.count(".")


class HashedNames:
    """Membership of many names by their 64-bit hashes: about 64 bytes a name, not 115.

    A million names as dict keys cost ~145 MB, mostly the strings themselves; a
    set of their hashes costs ~65 MB and answers as fast (one set probe per
    suffix, flat in the number of names). The matched name is the query's own
    suffix, so the strings are not needed to explain a decision. Two names with
    the same 64-bit hash would be confused; with a million names the chance for
    any one query is about 1 in 10^13. `hash()` of a str is salted per process,
    so the set is built in the process that uses it (workers inherit it, and
    the salt, by fork).
    """

    __slots__ = ("group", "hashes", "min_labels")

    def __init__(self, group: SourceRules, names: list[str] | NameHashes) -> None:
        if not isinstance(names, NameHashes):
            names = hashes_of(names)
        hashes: set[int] = set()  # never changed after this: a frozenset would cost a copy
        for start in range(0, len(names.hashes), CHUNK):
            hashes.update(names.hashes[start:start + CHUNK])
            time.sleep(0)
        self.hashes = hashes
        # suffixes shorter than every name (`com`) are never probed: one cache miss less
        self.min_labels = names.min_labels
        self.group = group

    def __contains__(self, name: str) -> bool:
        return hash(name) in self.hashes

    def probe(self) -> Probe:
        return self.hashes, self.group, self.min_labels, self.group.scope is Scope.SUBTREE


def covers(hashes: set[int], subtree: bool, name: str) -> bool:
    """Whether `name` is among `hashes`, or with `subtree` lies below one of them (for
    time questions, not the per-query path)."""
    if not subtree:
        return hash(name) in hashes
    suffix = name
    while suffix:
        if hash(suffix) in hashes:
            return True
        dot = suffix.find(".")
        suffix = suffix[dot + 1:] if dot >= 0 else ""
    return False
