"""External list formats: a source's text in, normalised entries and a report out.

One module per format (domains, hosts, adblock, rpz, regex), each reading its
format as Pi-hole and AdGuard Home do, and `detect` for `format: auto`. A
parser never raises on bad input: lines that are errors go to `invalid` with
their numbers, lines it understands but does not apply go to `skipped` by
reason, so `dnsfence lint` can say what a source gave and why.
"""

from __future__ import annotations

from resolver.lists.formats import adblock as adblock
from resolver.lists.formats import domains as domains
from resolver.lists.formats import hosts as hosts
from resolver.lists.formats import regex as regex
from resolver.lists.formats import rpz as rpz
from resolver.lists.formats.detect import detect_format
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format
from resolver.policy.model import Scope


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
