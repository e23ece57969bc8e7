"""The regex format: one pattern per line, as Pi-hole regex lists (mmotti/pihole-regex) write them.

Pi-hole matches a pattern anywhere in the query name, case-insensitively, as a
POSIX ERE; `resolver.policy.regexes.compile_pattern` compiles it that way.
Lines starting with `#` are comments. There are no inline comments: `#` can be
part of a pattern, and Pi-hole's own comment syntax is `(?#...)` inside it.

Pi-hole's extensions after a `;` (docs.pi-hole.net, "Pi-hole regex
extensions"): `;querytype=...` limits a pattern to some query types,
`;invert` blocks every name the pattern does NOT match, `;reply=...` chooses
the answer. dnsfence answers every blocked name the same way for every type,
so a line with any of them is skipped and counted by option rather than read
with a different meaning.

A line wrapped in slashes (`/ads\\./`, as AdGuard Home and Blocky write
regexes) is read without the slashes: a slash can never occur in a name, so it
can only be a delimiter.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from resolver.lists.formats.lines import source_lines
from resolver.policy.model import Action
from resolver.policy.regexes import InvalidRegex, compile_pattern

if TYPE_CHECKING:
    from resolver.lists.formats.parsed import ParsedSource

_PIHOLE_OPTION = re.compile(r";(querytype=[^;]*|invert|reply=[^;]*)\s*(?=;|$)")


def option_reason(line: str) -> str | None:
    """The skip reason for a Pi-hole option on this line, if it has one."""
    found = _PIHOLE_OPTION.search(line)
    if found is None:
        return None
    option = found.group(1).split("=", 1)[0]
    return f"Pi-hole option ;{option}"


def add_regex(out: ParsedSource, action: Action, pattern: str, number: int) -> None:
    """Take one pattern if it compiles; else the line is invalid, with the compiler's reason."""
    try:
        compile_pattern(pattern)
    except InvalidRegex as exc:
        out.invalid.append((number, str(exc)))
        return
    out.regexes.append((action, pattern, number))


def parse(text: str, out: ParsedSource) -> None:
    """Add the patterns of a Pi-hole regex list to `out` (as BLOCK regexes)."""
    for number, raw in enumerate(source_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        out.considered += 1
        reason = option_reason(line)
        if reason is not None:
            out.skipped[reason] += 1
            continue
        if len(line) > 2 and line[0] == "/" and line[-1] == "/":
            line = line[1:-1]
        add_regex(out, Action.BLOCK, line, number)
