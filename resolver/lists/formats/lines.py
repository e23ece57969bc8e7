"""Reading a list's lines, and telling fast whether they are names: what every format needs.

Names must be cheap to take: the common line is a lower-case ASCII name, and a
source can have a million of them. Lines are checked in blocks of 4,096: one
regex over the joined block (every line lower-case labels of `[a-z0-9_-]`,
no empty label, no hyphen at a label's edge, no label over 63 octets), plus
the longest line, a localhost-name and an IP-address check, prove every line
is a normalised name, and the block is taken as it is. A block that fails
any check is read line by line, with `normalise_pattern` for anything unusual
(upper case, Unicode, a trailing dot, odd characters), so the result does not
depend on which path a line took. The block regex uses possessive repeats, so
it never backtracks into a line it has matched.
"""

from __future__ import annotations

import ipaddress
import re
import time

from resolver.policy.names import MAX_NAME, normalise_pattern

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
