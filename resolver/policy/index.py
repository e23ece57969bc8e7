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
from collections.abc import Iterable, Iterator
from datetime import datetime

from resolver.policy.audience import NO_GROUPS, Audience, Groups
from resolver.policy.below_memo import BELOW_MAX, ONCE, Below, rank_of, split
from resolver.policy.model import (
    Action,
    AnyRule,
    RegexRule,
    Rule,
    Scope,
    SourceRules,
    in_force,
    precedence,
)
from resolver.policy.name_tables import HashedNames, NameHashes, Slot, add_entry, covers, entries
from resolver.policy.regexes import RegexMatcher
from resolver.policy.weekly import WeeklySchedule

Found = tuple[AnyRule, str]  # the deciding rule and the pattern that matched
_ALLOW = Action.ALLOW


def _epoch(at: datetime | float | None) -> float | None:
    if at is None or isinstance(at, float | int):
        return at
    return at.timestamp()


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
                add_entry(exact if rule.scope is Scope.EXACT else subtree, rule.pattern, rule)
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
        self._hashed = tuple(t.probe() for t in hashed)
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

        This is the server's per-query path, so precedence is an int (`rank_of`) rather
        than a tuple, and a key with one rule (the usual case) skips the loop.

        `below`, a memo the caller keeps for one policy period and one set of groups
        (empty to begin with, and `at` always within that period), holds what names below
        the same parent share (below_memo.py): a new name below a parent seen before (a
        random label under a blocked domain) then costs its own level and one dict lookup,
        not a walk over every suffix. The answer is the same with or without it.
        """
        # isinstance, not `at.__class__`: compiled, a type check rather than an attribute read
        now = at if isinstance(at, float) else _epoch(at)
        best: AnyRule | None = None
        best_pattern = ""
        best_rank = -1
        dot = name.find(".")
        slot = self._exact.get(name)
        if slot is not None:
            total = name.count(".") + 1 if name else 0
            for entry in (slot if isinstance(slot, tuple) else (slot,)):
                if (now is None or (entry.start <= now < entry.end and (
                        entry.weekly is None or entry.weekly.active(now)))) and (
                        entry.audience is None or entry.audience.reaches(groups)):
                    rank = rank_of(entry, total)
                    if rank > best_rank:
                        best, best_rank, best_pattern = entry, rank, name
        if below is not None and dot >= 0:
            parent = name[dot + 1:]
            shared = below.get(parent)
            if shared is not None:
                # a parent's labels, once known, spare counting the name's own
                total = shared[4] + 1 if shared[4] else name.count(".") + 1
                best, best_rank, best_pattern = split(
                    self._subtree, self._hashed, self._globs, name, total, now, groups, parent,
                    shared, below, best, best_rank, best_pattern)
                if self._regexes:
                    return self._with_regexes(name, total, now, groups, best, best_rank,
                                              best_pattern)
                return None if best is None else (best, best_pattern)
            if len(below) >= BELOW_MAX:
                below.clear()  # bounded: a flood of random parents cannot grow it
            below[parent] = ONCE
        total = name.count(".") + 1 if name else 0
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
                            rank = rank_of(entry, depth)
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
                        rank = rank_of(group, depth)
                        if rank > best_rank:
                            best, best_rank, best_pattern = group, rank, suffix
            if globs:
                for rule in globs.get(suffix, ()):
                    if rule.depth <= total and (now is None or (rule.start <= now < rule.end
                                                and (rule.weekly is None
                                                     or rule.weekly.active(now)))) \
                            and (rule.audience is None or rule.audience.reaches(groups)):
                        rank = rank_of(rule, rule.depth)
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
                    rank = rank_of(rule, rule.depth)
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

    def covering(self, name: str) -> Iterator[AnyRule]:
        """Every rule that covers `name` at some time (for time questions, not the hot path)."""
        slot = self._exact.get(name)
        if slot is not None:
            yield from entries(slot)
        for hashes, group, _fewest, subtree in self._hashed:
            if covers(hashes, subtree, name):
                yield group
        suffix = name
        while suffix:
            slot = self._subtree.get(suffix)
            if slot is not None:
                yield from entries(slot)
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
