"""name -> deciding rule, in time proportional to the name's labels.

Plain names (YAML entries and every name of every source) are keys of two dicts,
one for "this name and below" and one for "this name only"; glob rules are keyed
by their literal suffix and only tried against names below it. A lookup walks
the name's suffixes once, so its cost does not depend on how many names are
loaded, and a million source names cost one dict entry each, all pointing at
one shared SourceRules value.

The index holds every rule of the policy, active or not; a lookup at instant
`at` skips rules outside their window with two float comparisons, so a
transition needs no rebuild.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from resolver.policy.audience import NO_GROUPS, Audience, Groups
from resolver.policy.model import (
    Action,
    AnyRule,
    RegexRule,
    Rule,
    Scope,
    SourceRules,
    in_force,
)
from resolver.policy.regexes import RegexMatcher
from resolver.policy.weekly import WeeklySchedule

Entry = Rule | SourceRules
Slot = Entry | tuple[Entry, ...]
Found = tuple[AnyRule, str]  # the deciding rule and the pattern that matched
Below = tuple[Entry | None, int, str, tuple[Rule, ...]]
"""What the decisions of every name one label below a parent share, for one policy period
and one set of client groups (`PolicyIndex.lookup`'s `below`): the best plain or source
rule found from the parent down (None, rank -1 and "" without one), its rank and the
pattern it matched by, and the glob rules keyed at the parent or above it that are in
force for those groups, in the order a walk meets them (each name tries them itself)."""
BELOW_MAX = 4_096
"""Parents kept in a `below` memo at most; when full it starts again empty."""
_ONCE_RANK = -2
_ONCE: Below = (None, _ONCE_RANK, "", ())
"""In a `below` memo: a parent seen once. The walk decides that name; the next one below
the same parent makes the parent's `Below`, so names under distinct parents (forwarded
names, mostly) cost one dict entry each, not a `Below` that nobody reads again. Told by its
rank, never by identity: compiled, a `Below` is a C struct, boxed anew whenever stored."""


def precedence(rule: AnyRule, depth: int) -> tuple[int, bool, bool]:
    """Most specific first; at equal depth an exception beats a block, a plain rule a glob."""
    return (depth, rule.action is Action.ALLOW, not rule.is_glob)


_ALLOW = Action.ALLOW


def _rank(rule: AnyRule, depth: int) -> int:
    """`precedence` as one int, cheaper to compare on the per-query path."""
    return (depth << 2) | (2 if rule.action is _ALLOW else 0) | (0 if rule.is_glob else 1)


def _epoch(at: datetime | float | None) -> float | None:
    if at is None or isinstance(at, float | int):
        return at
    return at.timestamp()


def _add(table: dict[str, Slot], key: str, entry: Entry) -> None:
    current = table.get(key)
    if current is None:
        table[key] = entry
    elif isinstance(current, tuple):
        if entry not in current:
            table[key] = (*current, entry)
    elif current is not entry:
        table[key] = (current, entry)


def _entries(slot: Slot) -> tuple[Entry, ...]:
    return slot if isinstance(slot, tuple) else (slot,)


def _applies(rule: Rule, now: float | None, groups: Groups) -> bool:
    """Whether `rule` is in force at `now` (always, for None) for a client in `groups`."""
    return (now is None or (rule.start <= now < rule.end and (
        rule.weekly is None or rule.weekly.active(now)))) and (
        rule.audience is None or rule.audience.reaches(groups))


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


class _RegexGroup:
    """Regex rules sharing one action and window, matched together."""

    __slots__ = ("action", "audience", "end", "matcher", "rules", "start", "weekly")

    def __init__(self, rules: list[RegexRule]) -> None:
        self.rules = tuple(rules)
        self.action = rules[0].action
        self.start = rules[0].start
        self.end = rules[0].end
        self.weekly = rules[0].weekly
        self.audience = rules[0].audience
        self.matcher = RegexMatcher([r.pattern for r in rules])


class PolicyIndex:
    """Answers "which rule decides this name, at this instant?" for a fixed policy.

    Built once per policy and never mutated, so the server can swap it in one
    assignment and worker processes can share it copy-on-write.
    """

    __slots__ = ("_exact", "_globs", "_hashed", "_regexes", "_subtree", "audiences", "size")

    def __init__(self, rules: Iterable[Rule] = (),
                 sources: Iterable[tuple[SourceRules, list[str] | NameHashes]] = (),
                 regexes: Iterable[RegexRule] = ()) -> None:
        subtree: dict[str, Slot] = {}
        exact: dict[str, Slot] = {}
        globs: dict[str, list[Rule]] = {}
        size = 0
        audiences = False
        for rule in rules:
            size += 1
            audiences = audiences or rule.audience is not None
            if rule.is_glob:
                globs.setdefault(rule.suffix, []).append(rule)
            else:
                _add(exact if rule.scope is Scope.EXACT else subtree, rule.pattern, rule)
        hashed: list[HashedNames] = []
        for group, names in sources:
            hashed.append(HashedNames(group, names))
            size += group.count
            audiences = audiences or group.audience is not None
        grouped: dict[tuple[Action, float, float, str, WeeklySchedule | None,
                            Audience | None], list[RegexRule]] = {}
        for regex in regexes:
            grouped.setdefault((regex.action, regex.start, regex.end, regex.list_name,
                                regex.weekly, regex.audience), []).append(regex)
            size += 1
            audiences = audiences or regex.audience is not None
        self._subtree = subtree
        self._exact = exact
        # (hashes, group, fewest labels, subtree?) per source: plain tuples, since this is
        # probed for every suffix of every query
        self._hashed = tuple((t.hashes, t.group, t.min_labels, t.group.scope is Scope.SUBTREE)
                             for t in hashed)
        self._globs = {k: tuple(v) for k, v in globs.items()}
        self._regexes = tuple(_RegexGroup(v) for v in grouped.values())
        self.size = size
        self.audiences = audiences
        """Whether some list applies only to some clients: then a name's decision may
        differ from client to client."""

    def __len__(self) -> int:
        return self.size

    def decide(self, name: str, at: datetime | float | None = None,
               groups: Groups = NO_GROUPS) -> AnyRule | None:
        """The deciding rule for `name` (normalised) among rules active at `at`, for a
        client in `groups`.

        With `at=None` every rule counts as active.
        """
        found = self.lookup(name, at, groups)
        return None if found is None else found[0]

    def lookup(self, name: str, at: datetime | float | None = None,
               groups: Groups = NO_GROUPS, below: dict[str, Below] | None = None
               ) -> Found | None:
        """The deciding rule and the pattern it matched by (for answers and explanations),
        for a client in `groups`: a list that does not apply to the client is skipped, so
        the next best rule decides (an exempted group falls through to other lists).

        This is the server's per-query path, so precedence is an int (`_rank`) rather
        than a tuple, and a key with one rule (the usual case) skips the loop.

        `below`, a memo the caller keeps for one policy period and one set of groups
        (empty to begin with, and `at` always within that period), holds what names below
        the same parent share: a new name below a parent seen before (a random label
        under a blocked domain) then costs its own level and one dict lookup, not a walk
        over every suffix. The answer is the same with or without it.
        """
        now = at if at.__class__ is float else _epoch(at)
        best: AnyRule | None = None
        best_pattern = ""
        best_rank = -1
        total = name.count(".") + 1 if name else 0
        slot = self._exact.get(name)
        if slot is not None:
            for entry in (slot if isinstance(slot, tuple) else (slot,)):
                if (now is None or (entry.start <= now < entry.end and (
                        entry.weekly is None or entry.weekly.active(now)))) and (
                        entry.audience is None or entry.audience.reaches(groups)):
                    rank = _rank(entry, total)
                    if rank > best_rank:
                        best, best_rank, best_pattern = entry, rank, name
        if below is not None and total > 1:
            parent = name[name.find(".") + 1:]
            shared = below.get(parent)
            if shared is not None:
                found = self._split(name, total, now, groups, parent, shared, below, best,
                                    best_rank, best_pattern)
                if found is not None:
                    best, best_rank, best_pattern = found
                if self._regexes:
                    return self._with_regexes(name, total, now, groups, best, best_rank,
                                              best_pattern)
                return None if best is None else (best, best_pattern)
            if len(below) >= BELOW_MAX:
                below.clear()  # bounded: a flood of random parents cannot grow it
            below[parent] = _ONCE
        subtree_get, globs, hashed = self._subtree.get, self._globs, self._hashed
        suffix = name
        depth = total
        while depth > 0:
            floor = depth << 2
            slot = subtree_get(suffix)
            if slot is not None and floor + 3 > best_rank:
                if isinstance(slot, tuple):
                    for entry in slot:
                        if (now is None or (entry.start <= now < entry.end and (
                                entry.weekly is None or entry.weekly.active(now)))) and (
                                entry.audience is None or entry.audience.reaches(groups)):
                            rank = _rank(entry, depth)
                            if rank > best_rank:
                                best, best_rank, best_pattern = entry, rank, suffix
                elif (now is None or (slot.start <= now < slot.end and (
                        slot.weekly is None or slot.weekly.active(now)))) and (
                        slot.audience is None or slot.audience.reaches(groups)):
                    rank = floor | (2 if slot.action is _ALLOW else 0) | 1
                    if rank > best_rank:
                        best, best_rank, best_pattern = slot, rank, suffix
            if hashed and floor + 3 > best_rank:
                h = hash(suffix)
                for hashes, group, fewest, subtree in hashed:
                    if depth >= fewest and h in hashes and (subtree or depth == total) \
                            and (now is None or (group.start <= now < group.end and (
                                group.weekly is None or group.weekly.active(now)))) \
                            and (group.audience is None or group.audience.reaches(groups)):
                        rank = _rank(group, depth)
                        if rank > best_rank:
                            best, best_rank, best_pattern = group, rank, suffix
            if globs:
                for rule in globs.get(suffix, ()):
                    if rule.depth <= total and (now is None or (rule.start <= now < rule.end
                                                and (rule.weekly is None
                                                     or rule.weekly.active(now)))) \
                            and (rule.audience is None or rule.audience.reaches(groups)):
                        rank = _rank(rule, rule.depth)
                        if rank > best_rank and rule.matches(name):
                            best, best_rank, best_pattern = rule, rank, rule.pattern
            elif best is not None:
                break  # nothing shorter can be more specific
            dot = suffix.find(".")
            if dot < 0:
                break
            suffix = suffix[dot + 1:]
            depth -= 1
        if globs:  # globs in the last label (`tiktok.*`) have no literal suffix
            for rule in globs.get("", ()):
                if rule.depth <= total and (now is None or (rule.start <= now < rule.end
                                            and (rule.weekly is None
                                                 or rule.weekly.active(now)))) \
                        and (rule.audience is None or rule.audience.reaches(groups)):
                    rank = _rank(rule, rule.depth)
                    if rank > best_rank and rule.matches(name):
                        best, best_rank, best_pattern = rule, rank, rule.pattern
        return self._with_regexes(name, total, now, groups, best, best_rank, best_pattern)

    def _with_regexes(self, name: str, total: int, now: float | None, groups: Groups,
                      best: AnyRule | None, best_rank: int, best_pattern: str
                      ) -> Found | None:
        """The decision, once the regexes have had their say against the best so far."""
        if self._regexes and not (best is not None and best_rank >> 2 == total
                                  and best.action is _ALLOW):
            # A regex decides for the whole name: it is as specific as an exact entry.
            for patterns in self._regexes:
                if now is not None and not (patterns.start <= now < patterns.end and (
                        patterns.weekly is None or patterns.weekly.active(now))):
                    continue
                if patterns.audience is not None and not patterns.audience.reaches(groups):
                    continue
                rank = (total << 2) | (2 if patterns.action is _ALLOW else 0) | 1
                if rank <= best_rank:
                    continue
                index = patterns.matcher.first_match(name)
                if index is not None:
                    regex = patterns.rules[index]
                    best, best_rank, best_pattern = regex, rank, regex.pattern
        if best is None:
            return None
        return best, best_pattern

    def _split(self, name: str, total: int, now: float | None, groups: Groups, parent: str,
               shared: Below, below: dict[str, Below], best: AnyRule | None, best_rank: int,
               best_pattern: str) -> tuple[AnyRule, int, str] | None:
        """`lookup`'s walk, as the name's own level and its parent's `Below` (`shared`,
        from the memo; made and kept now if the parent was seen once only): the best of
        the plain, source and glob rules, or None.

        The same choice as the walk: the most specific rank wins, and of equal ranks the
        one the walk meets first. A glob's rank never equals a plain or source rule's (the
        lowest bit tells them apart), so meeting the name's level first, then the
        parent's plain and source rules, then its globs in walk order, chooses as the walk
        does. A glob keyed at the name itself has more labels than the name: none can match.
        """
        floor = total << 2
        slot = self._subtree.get(name)
        if slot is not None:
            for entry in (slot if isinstance(slot, tuple) else (slot,)):
                if (now is None or (entry.start <= now < entry.end and (
                        entry.weekly is None or entry.weekly.active(now)))) and (
                        entry.audience is None or entry.audience.reaches(groups)):
                    rank = floor | (2 if entry.action is _ALLOW else 0) | 1
                    if rank > best_rank:
                        best, best_rank, best_pattern = entry, rank, name
        hashed = self._hashed
        if hashed and floor + 3 > best_rank:
            h = hash(name)
            for hashes, group, fewest, _ in hashed:
                if total >= fewest and h in hashes \
                        and (now is None or (group.start <= now < group.end and (
                            group.weekly is None or group.weekly.active(now)))) \
                        and (group.audience is None or group.audience.reaches(groups)):
                    rank = _rank(group, total)
                    if rank > best_rank:
                        best, best_rank, best_pattern = group, rank, name
        globs = self._globs
        if best is not None and not globs:
            return best, best_rank, best_pattern  # nothing shorter can be more specific
        if shared[1] == _ONCE_RANK:
            shared = below[parent] = self._below(parent, total - 1, now, groups)
        entry_below, rank, pattern, glob_rules = shared
        if rank > best_rank:
            best, best_rank, best_pattern = entry_below, rank, pattern
        for rule in glob_rules:
            if rule.depth <= total:
                rank = _rank(rule, rule.depth)
                if rank > best_rank and rule.matches(name):
                    best, best_rank, best_pattern = rule, rank, rule.pattern
        return None if best is None else (best, best_rank, best_pattern)

    def _below(self, parent: str, depth: int, now: float | None, groups: Groups) -> Below:
        """The `Below` of `parent` (`depth` labels): `lookup`'s walk from the parent down,
        without what only the parent itself matches (its exact rules and exact sources),
        and with the globs in force kept for each name below to try."""
        best: Entry | None = None
        best_pattern = ""
        best_rank = -1
        kept: list[Rule] = []
        subtree_get, globs, hashed = self._subtree.get, self._globs, self._hashed
        suffix = parent
        while depth > 0:
            floor = depth << 2
            slot = subtree_get(suffix)
            if slot is not None and floor + 3 > best_rank:
                for entry in (slot if isinstance(slot, tuple) else (slot,)):
                    if (now is None or (entry.start <= now < entry.end and (
                            entry.weekly is None or entry.weekly.active(now)))) and (
                            entry.audience is None or entry.audience.reaches(groups)):
                        rank = _rank(entry, depth)
                        if rank > best_rank:
                            best, best_rank, best_pattern = entry, rank, suffix
            if hashed and floor + 3 > best_rank:
                h = hash(suffix)
                for hashes, group, fewest, subtree in hashed:
                    if subtree and depth >= fewest and h in hashes \
                            and (now is None or (group.start <= now < group.end and (
                                group.weekly is None or group.weekly.active(now)))) \
                            and (group.audience is None or group.audience.reaches(groups)):
                        rank = _rank(group, depth)
                        if rank > best_rank:
                            best, best_rank, best_pattern = group, rank, suffix
            if globs:
                here = globs.get(suffix)
                if here:
                    kept += [rule for rule in here if _applies(rule, now, groups)]
            elif best is not None:
                break  # nothing shorter can be more specific
            dot = suffix.find(".")
            if dot < 0:
                break
            suffix = suffix[dot + 1:]
            depth -= 1
        if globs:  # globs in the last label (`tiktok.*`) have no literal suffix
            kept += [rule for rule in globs.get("", ()) if _applies(rule, now, groups)]
        return best, best_rank, best_pattern, tuple(kept)

    def covering(self, name: str) -> Iterator[AnyRule]:
        """Every rule that covers `name` at some time (for time questions, not the hot path)."""
        slot = self._exact.get(name)
        if slot is not None:
            yield from _entries(slot)
        for hashes, group, _fewest, below in self._hashed:
            if self._in_hashes(hashes, below, name):
                yield group
        suffix = name
        while suffix:
            slot = self._subtree.get(suffix)
            if slot is not None:
                yield from _entries(slot)
            for rule in self._globs.get(suffix, ()):
                if rule.matches(name):
                    yield rule
            dot = suffix.find(".")
            suffix = suffix[dot + 1:] if dot >= 0 else ""
        for rule in self._globs.get("", ()):
            if rule.matches(name):
                yield rule
        for patterns in self._regexes:
            index = patterns.matcher.first_match(name)
            if index is not None:
                yield patterns.rules[index]

    def depends_on_client(self, name: str) -> bool:
        """Whether a list that applies only to some clients covers `name` (then its
        decision may differ from client to client)."""
        return self.audiences and any(r.audience is not None for r in self.covering(name))

    @staticmethod
    def _in_hashes(hashes: set[int], below: bool, name: str) -> bool:
        if not below:
            return hash(name) in hashes
        suffix = name
        while suffix:
            if hash(suffix) in hashes:
                return True
            dot = suffix.find(".")
            suffix = suffix[dot + 1:] if dot >= 0 else ""
        return False

    def next_change(self, name: str, after: float) -> float | None:
        """The first instant after `after` at which a rule covering `name` starts or ends,
        or a window of its `schedule:` opens or closes."""
        first = math.inf
        for rule in self.covering(name):
            if after < rule.start < first:
                first = rule.start
            if after < rule.end < first:
                first = rule.end
            if rule.weekly is not None and max(after, rule.start) < min(first, rule.end):
                opening = rule.weekly.next_edge(max(after, rule.start))
                if opening is not None and opening < min(first, rule.end):
                    first = opening
        return None if first == math.inf else first


def decide_by_scan(rules: Iterable[Rule], name: str,
                   at: datetime | float | None = None, groups: Groups = NO_GROUPS
                   ) -> Rule | None:
    """The same decision by brute force: the reference the index is tested against."""
    now = _epoch(at)
    best: Rule | None = None
    for rule in rules:
        if (now is None or in_force(rule, now)) and rule.matches(name) and (
            rule.audience is None or rule.audience.reaches(groups)) and (
            best is None or precedence(rule, rule.depth) > precedence(best, best.depth)
        ):
            best = rule
    return best
