"""External list formats: a source's text in, normalised entries and a report out.

One module per format (domains, hosts, adblock, rpz, regex), each reading its
format as Pi-hole and AdGuard Home do, and `detect` for `format: auto`. A
parser never raises on bad input: lines that are errors go to `invalid` with
their numbers, lines it understands but does not apply go to `skipped` by
reason, so `dnsfence lint` can say what a source gave and why.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from resolver.lists.formats import adblock as adblock
from resolver.lists.formats import domains as domains
from resolver.lists.formats import hosts as hosts
from resolver.lists.formats import regex as regex
from resolver.lists.formats import rpz as rpz
from resolver.lists.formats.detect import detect_format
from resolver.lists.sources import Format, Scope
from resolver.policy.model import Action

__all__ = ["ParsedSource", "detect_format", "parse_source"]


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


def parse_source(text: str, fmt: Format, *, match: Scope | None = None) -> ParsedSource:
    """Parse a source's text in `fmt` (detected from the content when AUTO).

    `match` widens or narrows the plain names of domains, hosts and adblock
    sources (a hosts line, a bare adblock hostname); the format's explicit
    syntax (`||x^`, `|x^`, `*.x`, RPZ owners) keeps its own meaning.
    """
    if fmt is Format.AUTO:
        fmt = detect_format(text)
    out = ParsedSource(format=fmt)
    if fmt is Format.DOMAINS:
        domains.parse(text, out, match or Scope.EXACT)
    elif fmt is Format.HOSTS:
        hosts.parse(text, out, match or Scope.EXACT)
    elif fmt is Format.ADBLOCK:
        adblock.parse(text, out, match or Scope.EXACT)
    elif fmt is Format.RPZ:
        rpz.parse(text, out)
    elif fmt is Format.REGEX:
        regex.parse(text, out)
    else:  # pragma: no cover - every Format member is handled above
        raise ValueError(f"no parser for {fmt}")
    # Keys with no entries (a block that turned out to be all comments) are noise.
    for key in [key for key, values in out.names.items() if not values]:
        del out.names[key]
    return out
