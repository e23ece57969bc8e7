"""The domains format: one name per line, `#` comments, `*.x` for the names below x.

This is how Pi-hole, AdGuard Home ("domains-only syntax") and Blocky read
plain lists: a name blocks that exact name (Pi-hole gravity and AdGuard Home
both say so), unless the source says `match: subtree` (HaGeZi's
`*-onlydomains` lists are published with that meaning); `*.x` blocks the
names below x but not x, so it is stored as the glob pattern `*.x`, which in
dnsfence already means "below x". As in Blocky, `*` is accepted only as a
leading `*.` label; AdGuard Home would read other wildcards as adblock rules,
so a list that needs them should be read as `adblock`. Blocks of plain names
are taken whole (see resolver.lists.formats.lines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resolver.lists.formats.lines import (
    BLOCK,
    IP_REASON,
    LOCAL_REASON,
    check_name,
    is_ip_address,
    is_local_name,
    plain_block,
    source_lines,
)
from resolver.policy.model import Action, Scope
from resolver.policy.names import InvalidName

if TYPE_CHECKING:
    from resolver.lists.formats.parsed import ParsedSource


def _one_line(out: ParsedSource, number: int, line: str, plain: Scope) -> None:
    """Read one line the careful way (comments, blanks, wildcards, odd names)."""
    cut = line.find("#")
    if cut >= 0:
        line = line[:cut]
    line = line.strip()
    if not line:
        return
    out.considered += 1
    fields = line.split()
    if len(fields) > 1:
        out.invalid.append(
            (number, f"{line[:60]!r} has {len(fields)} fields; a domains list has one name a line")
        )
        return
    if is_ip_address(line):
        out.skipped[IP_REASON] += 1
        return
    wildcard = line.startswith("*.")
    if "*" in (line[2:] if wildcard else line):
        out.invalid.append(
            (number, f"{line[:60]!r}: only a leading '*.' wildcard is part of the domains format")
        )
        return
    try:
        name = check_name(line, allow_glob=wildcard)
    except InvalidName as exc:
        out.invalid.append((number, str(exc)))
        return
    if is_local_name(name):
        out.skipped[LOCAL_REASON] += 1
        return
    scope = Scope.SUBTREE if wildcard else plain
    out.names.setdefault((Action.BLOCK, scope), []).append(name)


def _wildcard_block(joined: str, size: int) -> bool:
    """True when every line of a block is `*.` and a normalised name (HaGeZi's wildcard lists)."""
    if not joined.startswith("*.") or joined.count("\n*.") != size - 1:
        return False
    names_joined = joined[2:].replace("\n*.", "\n")
    return plain_block(names_joined, names_joined.split("\n"))


def parse(text: str, out: ParsedSource, plain: Scope) -> None:
    """Add the entries of a domains-format `text` to `out`; plain names get `plain` scope."""
    lines = source_lines(text)
    bucket = out.names.setdefault((Action.BLOCK, plain), [])
    for start in range(0, len(lines), BLOCK):
        _take(out, lines[start : start + BLOCK], start, plain, bucket)


_SMALLEST_BLOCK = 64


def _take(out: ParsedSource, block: list[str], start: int, plain: Scope,
          bucket: list[str]) -> None:
    """Take a block whole if it passes the block checks; else halve it, down to 64 lines
    read one by one, so that one odd line (a comment, a typo) costs a few small blocks,
    not 4,096 lines of the slow path. Names keep their order."""
    joined = "\n".join(block)
    if plain_block(joined, block):
        bucket.extend(block)
        out.considered += len(block)
        return
    if _wildcard_block(joined, len(block)):
        out.names.setdefault((Action.BLOCK, Scope.SUBTREE), []).extend(block)
        out.considered += len(block)
        return
    if len(block) > _SMALLEST_BLOCK:
        half = len(block) // 2
        _take(out, block[:half], start, plain, bucket)
        _take(out, block[half:], start + half, plain, bucket)
        return
    for offset, line in enumerate(block):
        _one_line(out, start + offset + 1, line, plain)
