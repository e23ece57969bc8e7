"""The domains format: one name per line, `#` comments, `*.x` for the names below x.

This is how Pi-hole, AdGuard Home ("domains-only syntax") and Blocky read
plain lists: a name blocks that exact name (Pi-hole gravity and AdGuard Home
both say so), unless the source says `match: subtree` (HaGeZi's
`*-onlydomains` lists are published with that meaning); `*.x` blocks the
names below x but not x, so it is stored as the glob pattern `*.x`, which in
dnsfence already means "below x". As in Blocky, `*` is accepted only as a
leading `*.` label; AdGuard Home would read other wildcards as adblock rules,
so a list that needs them should be read as `adblock`.

Names must be cheap to take: the common line is a lower-case ASCII name, and a
source can have a million of them. Lines are checked in blocks of 4,096: one
regex over the joined block (every line lower-case labels of `[a-z0-9_-]`,
no empty label, no hyphen at a label's edge, no label over 63 octets), plus
the longest line, a localhost-name and an IP-address check, prove every line
is a normalised name, and the block is taken as it is. A block that fails
any check is read line by line, with `normalise_pattern` for anything unusual
(upper case, Unicode, a trailing dot, odd characters), so the result does not
depend on which path a line took.

Measured (CPython 3.11.7, 2-core AMD EPYC VM; `parse_source` on text already
in memory, best of 3; the synthetic list is 1,000,000 random names of 1-3
labels under common TLDs, 23 MB):

    hagezi-union-onlydomains.txt, 609,124 lines, DOMAINS        0.23 s
    synthetic 1M names, DOMAINS                                  0.47 s
    synthetic 1M names, AUTO (detection reads the first MiB)     0.46 s
    synthetic 1M names as `0.0.0.0 name`, HOSTS                  0.65 s
    synthetic 1M names as `||name^`, ADBLOCK                     0.64 s
    HaGeZi wildcard/pro.txt, 168,322 `*.x` lines                 0.09 s
    synthetic 1M names in upper case (every line the slow path)  3.1 s

The block regex uses possessive repeats, so it never backtracks into a line
it has matched. A first version scanned each block eight times for bad
seams (`..`, `-.`, ...); its checks took 0.29 s on the 609k list, against
0.17 s for the regex.
"""

from __future__ import annotations

import ipaddress
import re
import time
from typing import TYPE_CHECKING

from resolver.lists.sources import Scope
from resolver.policy.model import Action
from resolver.policy.names import MAX_NAME, InvalidName, normalise_pattern

if TYPE_CHECKING:
    from resolver.lists.formats import ParsedSource

# Host names that hosts files carry for the machine itself. Pi-hole's gravity
# parser suppresses the same list (FTL src/tools/gravity-parseList.c) rather
# than reporting these lines as unusable; dnsfence counts them as skipped.
LOCAL_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
    }
)
LOCAL_REASON = "localhost entry"
IP_REASON = "IP address, not a name"

BLOCK = 4096

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = rf"{_LABEL}(?:\.{_LABEL})*+"
_PLAIN_NAME = re.compile(_NAME)
# Every line of a block a normalised name: one linear pass (possessive
# repeats never backtrack into a line already matched).
_PLAIN_BLOCK = re.compile(rf"(?:{_NAME}\n)*+{_NAME}")
_NUMERIC_LAST_LABEL = re.compile(r"\.[0-9]+(?:\n|\Z)")


def source_lines(text: str) -> list[str]:
    """The source's lines, numbered from 1 by position, whatever their line endings."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Split a megabyte at a time: one split of a 30 MB text holds the GIL for ~50 ms,
    # which a reload running beside the serving thread must not do.
    lines: list[str] = []
    start, size = 0, len(text)
    while start < size:
        end = text.rfind("\n", start, start + (1 << 20))
        end = size if end < 0 or start + (1 << 20) >= size else end + 1
        lines.extend(text[start:end].split("\n"))
        if end < size:
            lines.pop()  # the piece ended with a newline: its last item is empty
        start = end
        time.sleep(0)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def is_local_name(name: str) -> bool:
    """A name a hosts file uses for the machine itself (Pi-hole's list, plus any ip6-*)."""
    return name in LOCAL_NAMES or (name.startswith("ip6-") and "." not in name)


def is_ip_address(text: str) -> bool:
    """True for an IPv4 or IPv6 address (an IPv6 zone such as `%lo0` allowed)."""
    if not text or not (text[0].isdigit() or ":" in text):
        return False
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def plain_block(joined: str, names: list[str]) -> bool:
    """True when every name in `names` (joined by newlines) is already normalised.

    A False answer means only "look at these lines one by one".
    """
    if _PLAIN_BLOCK.fullmatch(joined) is None or max(map(len, names)) > MAX_NAME:
        return False
    if "ip6-" in joined or not LOCAL_NAMES.isdisjoint(names):
        return False
    return _NUMERIC_LAST_LABEL.search(joined) is None


def check_name(text: str, *, allow_glob: bool = False) -> str:
    """One list entry as a normalised name; raise InvalidName saying why not.

    Same answers as `normalise_pattern`, without its cost for the ASCII names
    lists are made of (upper case, a trailing dot, a leading `*.` when
    `allow_glob`); anything else goes to `normalise_pattern`.
    """
    if text.isascii():
        name = text.lower()
        if name.endswith("."):
            name = name[:-1]
        body = name[2:] if allow_glob and name.startswith("*.") else name
        if len(name) <= MAX_NAME and _PLAIN_NAME.fullmatch(body) is not None:
            return name
    return normalise_pattern(text, allow_glob=allow_glob)


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
