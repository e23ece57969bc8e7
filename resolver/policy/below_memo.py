"""The `below` memo of `PolicyIndex.lookup`: what the names below one parent share.

A random label under a blocked domain is a new name every time, so the blocking
stage's memo of decided names never hits; but all those names have the same parent.
The memo keeps, per parent, the part of the walk from the parent down, so such a
name costs its own level and one dict lookup. These are functions over the index's
tables, called where the index would have called its own methods: no extra call per
query.
"""

from __future__ import annotations

from typing import Final

from resolver.policy.audience import Groups
from resolver.policy.model import Action, AnyRule, Rule
from resolver.policy.name_tables import Entry, Probe, Slot

Below = tuple[Entry | None, int, str, tuple[Rule, ...], int]
"""What the decisions of every name one label below a parent share, for one policy period
and one set of client groups (`PolicyIndex.lookup`'s `below`): the best plain or source
rule found from the parent down (None, rank -1 and "" without one), its rank and the
pattern it matched by, the glob rules keyed at the parent or above it that are in
force for those groups, in the order a walk meets them (each name tries them itself),
and the parent's labels (0 in `ONCE`): a name below it need not count its own."""
BELOW_MAX: Final = 4_096
"""Parents kept in a `below` memo at most; when full it starts again empty."""
ONCE_RANK: Final = -2
ONCE: Final[Below] = (None, ONCE_RANK, "", (), 0)
"""In a `below` memo: a parent seen once. The walk decides that name; the next one below
the same parent makes the parent's `Below`, so names under distinct parents (forwarded
names, mostly) cost one dict entry each, not a `Below` that nobody reads again. Told by its
rank, never by identity: compiled, a `Below` is a C struct, boxed anew whenever stored."""
_ALLOW: Final = Action.ALLOW  # a global: reading a member off the enum class costs more per query


def rank_of(rule: AnyRule, depth: int) -> int:
    """`resolver.policy.model.precedence` as one int, cheaper to compare per query (here,
    beside the memo, so that the compiled build calls it natively from the index too)."""
    return (depth << 2) | (2 if rule.action is _ALLOW else 0) | (0 if rule.is_glob else 1)


def _applies(rule: Rule, now: float | None, groups: Groups) -> bool:
    """Whether `rule` is in force at `now` (always, for None) for a client in `groups`."""
    return (now is None or (rule.start <= now < rule.end and (
        rule.weekly is None or rule.weekly.active(now)))) and (
        rule.audience is None or rule.audience.reaches(groups))


def split(subtree: dict[str, Slot], hashed: tuple[Probe, ...], globs: dict[str, tuple[Rule, ...]],
          name: str, total: int, now: float | None, groups: Groups, parent: str, shared: Below,
          below: dict[str, Below], best: AnyRule | None, best_rank: int, best_pattern: str
          ) -> tuple[AnyRule | None, int, str]:
    """`lookup`'s walk, as the name's own level and its parent's `Below` (`shared`,
    from the memo; made and kept now if the parent was seen once only): the best of
    the plain, source and glob rules, or (None, -1, "") (never None itself: compiled, a
    tuple that is not optional is returned as a C struct, not an object).

    The same choice as the walk: the most specific rank wins, and of equal ranks the
    one the walk meets first. A glob's rank never equals a plain or source rule's (the
    lowest bit tells them apart), so meeting the name's level first, then the
    parent's plain and source rules, then its globs in walk order, chooses as the walk
    does. A glob keyed at the name itself has more labels than the name: none can match.
    """
    floor = total << 2
    slot = subtree.get(name)
    if slot is not None:
        for entry in (slot if isinstance(slot, tuple) else (slot,)):
            if (now is None or (entry.start <= now < entry.end and (
                    entry.weekly is None or entry.weekly.active(now)))) and (
                    entry.audience is None or entry.audience.reaches(groups)):
                rank = floor | (2 if entry.action is _ALLOW else 0) | 1
                if rank > best_rank:
                    best, best_rank, best_pattern = entry, rank, name
    if hashed and floor + 3 > best_rank:
        h = hash(name)
        for hashes, group, fewest, _ in hashed:
            if total >= fewest and h in hashes \
                    and (now is None or (group.start <= now < group.end and (
                        group.weekly is None or group.weekly.active(now)))) \
                    and (group.audience is None or group.audience.reaches(groups)):
                rank = rank_of(group, total)
                if rank > best_rank:
                    best, best_rank, best_pattern = group, rank, name
    if best is not None and not globs:
        return best, best_rank, best_pattern  # nothing shorter can be more specific
    if shared[1] == ONCE_RANK:
        shared = below[parent] = below_of(subtree, hashed, globs, parent, total - 1, now,
                                          groups)
    entry_below, rank, pattern, glob_rules, _ = shared
    if rank > best_rank:
        best, best_rank, best_pattern = entry_below, rank, pattern
    for rule in glob_rules:
        if rule.depth <= total:
            rank = rank_of(rule, rule.depth)
            if rank > best_rank and rule.matches(name):
                best, best_rank, best_pattern = rule, rank, rule.pattern
    return best, best_rank, best_pattern


def below_of(subtree: dict[str, Slot], hashed: tuple[Probe, ...],
             globs: dict[str, tuple[Rule, ...]], parent: str, depth: int, now: float | None,
             groups: Groups) -> Below:
    """The `Below` of `parent` (`depth` labels): `lookup`'s walk from the parent down,
    without what only the parent itself matches (its exact rules and exact sources),
    and with the globs in force kept for each name below to try."""
    labels = depth
    best: Entry | None = None
    best_pattern = ""
    best_rank = -1
    kept: list[Rule] = []
    subtree_get = subtree.get
    suffix = parent
    while depth > 0:
        floor = depth << 2
        slot = subtree_get(suffix)
        if slot is not None and floor + 3 > best_rank:
            for entry in (slot if isinstance(slot, tuple) else (slot,)):
                if (now is None or (entry.start <= now < entry.end and (
                        entry.weekly is None or entry.weekly.active(now)))) and (
                        entry.audience is None or entry.audience.reaches(groups)):
                    rank = rank_of(entry, depth)
                    if rank > best_rank:
                        best, best_rank, best_pattern = entry, rank, suffix
        if hashed and floor + 3 > best_rank:
            h = hash(suffix)
            for hashes, group, fewest, covers_below in hashed:
                if covers_below and depth >= fewest and h in hashes \
                        and (now is None or (group.start <= now < group.end and (
                            group.weekly is None or group.weekly.active(now)))) \
                        and (group.audience is None or group.audience.reaches(groups)):
                    rank = rank_of(group, depth)
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
    return best, best_rank, best_pattern, tuple(kept), labels
