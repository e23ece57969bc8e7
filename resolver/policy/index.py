"""name -> deciding rule, in time proportional to the name's labels.

Plain rules are keyed by their name; glob rules by their literal suffix and
only tried against names below it. A lookup walks the name's suffixes once, so
its cost does not depend on how many rules are loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from resolver.policy.model import Action, Rule


def precedence(rule: Rule) -> tuple[int, bool, bool]:
    """Most specific first; at equal depth an exception beats a block, a plain rule a glob."""
    return (rule.depth, rule.action is Action.ALLOW, not rule.is_glob)


class PolicyIndex:
    """Answers "which rule decides this name?" for a fixed set of rules.

    Built once per policy (or per active snapshot) and never mutated, so the
    server can swap it in one assignment.
    """

    __slots__ = ("_globs", "_plain", "size")

    def __init__(self, rules: Iterable[Rule]) -> None:
        plain: dict[str, list[Rule]] = {}
        globs: dict[str, list[Rule]] = {}
        size = 0
        for rule in rules:
            (globs if rule.is_glob else plain).setdefault(rule.suffix, []).append(rule)
            size += 1
        self._plain = {k: tuple(v) for k, v in plain.items()}
        self._globs = {k: tuple(v) for k, v in globs.items()}
        self.size = size

    def __len__(self) -> int:
        return self.size

    def decide(self, name: str, at: datetime | None = None) -> Rule | None:
        """The deciding rule for `name` (normalised), among rules active at `at`.

        With `at=None` every indexed rule counts as active (the server indexes
        only the active snapshot).
        """
        best: Rule | None = None
        best_key = (0, False, False)
        plain = self._plain
        globs = self._globs
        suffix = name
        depth = name.count(".") + 1 if name else 0
        total = depth
        while depth >= 0:
            candidates = plain.get(suffix)
            if candidates is not None and (best is None or depth >= best_key[0]):
                for rule in candidates:
                    if at is None or rule.window.contains(at):
                        key = precedence(rule)
                        if best is None or key > best_key:
                            best, best_key = rule, key
            if globs:
                # A glob rule is keyed by its literal suffix, which is "" when its last
                # label is a glob (`tiktok.*`), hence the walk down to depth 0.
                for rule in globs.get(suffix, ()):
                    if rule.depth <= total and (at is None or rule.window.contains(at)):
                        key = precedence(rule)
                        if (best is None or key > best_key) and rule.matches(name):
                            best, best_key = rule, key
            elif best is not None:
                break  # no globs: shorter suffixes are less specific
            if depth <= 1:
                if not globs or depth == 0:
                    break
                suffix, depth = "", 0
                continue
            suffix = suffix[suffix.index(".") + 1:]
            depth -= 1
        return best


def decide_by_scan(rules: Iterable[Rule], name: str, at: datetime | None = None) -> Rule | None:
    """The same decision by brute force: the reference the index is tested against."""
    best: Rule | None = None
    for rule in rules:
        if (at is None or rule.window.contains(at)) and rule.matches(name) and (
            best is None or precedence(rule) > precedence(best)
        ):
            best = rule
    return best
