"""What a format's parser hands back for one source (every format fills the same record)."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from resolver.lists.sources import Format
from resolver.policy.model import Action, Scope


@dataclass(slots=True)
class ParsedSource:
    """What one source's text gave: entries by (action, scope), and why the rest did not count.

    Mutable only while its parser fills it; treat it as read-only afterwards.

    - `names`: normalised patterns (lower case, A-labels, no trailing dot). A
      SUBTREE pattern matches the name and every name below it (`*.x` is a
      glob: the names below x); an EXACT pattern is a plain name, never a glob.
      Duplicates are kept (they cost nothing to index twice, and a count per
      line is what lint reports).
    - `regexes`: (action, pattern, line number); compile with
      `resolver.policy.regexes.compile_pattern`.
    - `skipped`: reason -> number of entries. Most reasons are entries not
      applied (cosmetic rules, unsupported modifiers, localhost). A reason that
      ends in "(taken)" notes entries that were applied with an approximation
      (RPZ NODATA answered as NXDOMAIN, an adblock `*` that may span labels).
    - `invalid`: (line number, message) for lines that are errors.
    - `considered`: lines that were not blank, comments or headers.
    """

    format: Format
    names: dict[tuple[Action, Scope], list[str]] = field(default_factory=dict)
    regexes: list[tuple[Action, str, int]] = field(default_factory=list)
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    considered: int = 0

    @property
    def taken(self) -> int:
        """Entries the source contributes (names and regexes)."""
        return sum(len(v) for v in self.names.values()) + len(self.regexes)

    @property
    def invalid_share(self) -> float:
        """Share of considered lines that are errors (0.0 for a source with none)."""
        if self.considered == 0:
            return 0.0
        return len(self.invalid) / self.considered

    def names_for(self, action: Action, scope: Scope) -> list[str]:
        """The patterns of one (action, scope), empty when there are none."""
        return self.names.get((action, scope), [])
