"""Warnings about a list's own entries that make no difference (lint's hints).

A duplicate, an entry both blocked and allowed, or one already covered by a
wider entry of the same list does nothing; an admin should hear it, but it is
not an error, so the list still loads.
"""

from __future__ import annotations

from resolver.lists.problems import Problem
from resolver.policy.model import Action, Rule, Window


def entry_warnings(rules: list[Rule]) -> list[Problem]:
    """Warnings about `rules` (one list's entries, in file order)."""
    problems: list[Problem] = []

    def warn(rule: Rule, message: str) -> None:
        problems.append(Problem(rule.location, message, "warning"))

    seen: dict[tuple[str, Action], Rule] = {}
    by_pattern: dict[str, list[Rule]] = {}
    for rule in rules:
        first = seen.setdefault((rule.pattern, rule.action), rule)
        if first is not rule:
            warn(rule, f"duplicate entry {rule.pattern!r} (also on line {first.location.line})")
            continue
        by_pattern.setdefault(rule.pattern, []).append(rule)
    for pattern, same in by_pattern.items():
        if len({r.action for r in same}) > 1:
            allowed = next(r for r in same if r.action is Action.ALLOW)
            warn(allowed, f"{pattern!r} is both blocked and allowed in this list; "
                 "the exception wins, so the block does nothing")
    plain = {(r.pattern, r.action): r for r in seen.values() if not r.is_glob}
    by_suffix: dict[tuple[str, Action], list[Rule]] = {}
    for rule in seen.values():
        by_suffix.setdefault((rule.suffix, rule.action), []).append(rule)
    unique = list(seen.values())
    for rule in unique:
        parent = _covering_parent(rule, plain)
        if parent is None:
            continue
        if _opposite_between(rule, parent, by_suffix, unique):
            continue  # an exception in between makes this entry meaningful
        warn(rule, f"{rule.pattern!r} is already covered by "
             f"{parent.pattern!r} (line {parent.location.line}); it can be removed")
    return problems


def _covering_parent(rule: Rule, plain: dict[tuple[str, Action], Rule]) -> Rule | None:
    """A plain entry of the same list that already decides everything `rule` does."""
    name = rule.suffix
    if not rule.is_glob:
        dot = name.find(".")
        if dot < 0:
            return None
        name = name[dot + 1:]
    while name:
        parent = plain.get((name, rule.action))
        if parent is not None and parent is not rule and _covers(parent.window, rule.window):
            return parent
        dot = name.find(".")
        if dot < 0:
            return None
        name = name[dot + 1:]
    return None


def _opposite_between(rule: Rule, parent: Rule, by_suffix: dict[tuple[str, Action], list[Rule]],
                      rules: list[Rule]) -> bool:
    """Whether a rule of the other action, no shallower than `parent` and no deeper than
    `rule`, may match a name `rule` matches: then `rule` decides names `parent` would not."""
    other = Action.ALLOW if rule.action is Action.BLOCK else Action.BLOCK

    def between(o: Rule) -> bool:
        return parent.depth <= o.depth <= rule.depth and _related(o, rule)

    if rule.is_glob:  # rare: globs are few, a scan is fine
        return any(o.action is other and between(o) for o in rules)
    # A plain rule's names can only be matched by rules keyed at it or above it
    # (at most as deep, a glob's key is shorter still), so walk up its name.
    name = rule.pattern
    while True:
        if any(between(o) for o in by_suffix.get((name, other), ())):
            return True
        if not name:
            return False
        dot = name.find(".")
        name = name[dot + 1:] if dot >= 0 else ""


def _related(a: Rule, b: Rule) -> bool:
    """Whether some name could be matched by both rules (exact for plain rules)."""
    if not a.is_glob and not b.is_glob:
        return a.matches(b.pattern) or b.matches(a.pattern)
    x, y = a.suffix, b.suffix
    return not x or not y or x == y or x.endswith("." + y) or y.endswith("." + x)


def _covers(outer: Window, inner: Window) -> bool:
    starts_before = outer.effective is None or (
        inner.effective is not None and outer.effective <= inner.effective)
    ends_after = outer.expires is None or (
        inner.expires is not None and inner.expires <= outer.expires)
    return starts_before and ends_after
