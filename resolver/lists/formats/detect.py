"""Which format a source is written in, from its content (`format: auto`).

The first few hundred lines that are not blank or comments each vote for the
most specific format they can only belong to: a zone record (RPZ), an
address followed by names (hosts), `||`, `@@`, `|...^`, `/regex/` or a
cosmetic marker (adblock), regex syntax such as `^`, `\\.`, `(`, `[` (regex),
a plain name (domains). A plain name is valid in every format, so it counts
only for domains; a format that needs distinctive syntax wins when its lines
are at least as many as the plain ones (adblock, whose parser reads plain
names the same way, wins with any). `[Adblock ...]` headers and SOA/`$TTL`
settle it at once.

An HTML page (someone pointed a source at a web page) is reported as domains,
whose parser then finds most of its lines invalid, which is what lint must
say about it.
"""

from __future__ import annotations

import re
from collections import Counter

from resolver.lists.formats.lines import is_ip_address
from resolver.lists.sources import Format

SAMPLE = 500  # content lines that vote
MAX_LINES = 20_000  # lines read at most, comments included
SAMPLE_CHARS = 1 << 20  # ... from the first MiB

_HTML = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_ZONE_RECORD = re.compile(
    r"(?:\S+)?\s+(?:\d+\w*\s+)?(?:IN\s+)?(?:\d+\w*\s+)?(?:SOA|NS|CNAME|A|AAAA|TXT|DNAME)\s",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?:\*\.)?(?:[\w-]+\.)*[\w-]+\.?", re.ASCII)
_ADBLOCK = re.compile(r"^(?:@@|\|\||\|)|\^(?:\||\$.*)?$|\$[a-z-]+(?:=|,|$)|#[@?$%]?#")
_REGEX_SYNTAX = re.compile(r"\\[.dwsb]|[\^$()\[\]{}+?|]")


def _vote(line: str, fields: list[str]) -> str | None:
    """The format a content line points to (None for a line no format reads)."""
    # Hosts before RPZ: "0.0.0.0 a b" would otherwise read as an A record.
    if len(fields) >= 2 and is_ip_address(fields[0]):
        return "hosts"
    if line.startswith(("$TTL", "$ORIGIN")) or _ZONE_RECORD.match(line + " "):
        return "rpz"
    if len(line) > 2 and line[0] == "/" and line[-1] == "/":
        return "adblock"
    if _ADBLOCK.search(line):
        return "adblock"
    if len(fields) == 1 and _NAME.fullmatch(line):
        return "domains"
    if len(fields) == 1 and _REGEX_SYNTAX.search(line):
        return "regex"
    return None


def detect_format(text: str) -> Format:
    """The format of a source's text (DOMAINS when nothing distinctive is found)."""
    head = text[:4096]
    if _HTML.search(head):
        return Format.DOMAINS
    votes: Counter[str] = Counter()
    seen = 0
    lines = text[:SAMPLE_CHARS].split("\n", MAX_LINES)[:MAX_LINES]
    if len(text) > SAMPLE_CHARS:
        lines.pop()  # cut in the middle
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[Adblock") or line.startswith("[uBlock"):
            return Format.ADBLOCK
        if line[0] in "!;" or (line[0] == "#" and not line.startswith(("##", "#@#"))):
            votes["comment" + line[0]] += 1
            continue
        fields = line.split()
        if len(fields) >= 4 and "SOA" in (field.upper() for field in fields[1:4]):
            return Format.RPZ
        vote = _vote(line, fields)
        if vote is not None:
            votes[vote] += 1
        seen += 1
        if seen >= SAMPLE:
            break
    plain = votes["domains"]
    for name, fmt in (("rpz", Format.RPZ), ("hosts", Format.HOSTS), ("regex", Format.REGEX)):
        if votes[name] and votes[name] >= plain and votes[name] >= votes["adblock"]:
            return fmt
    if votes["adblock"]:
        return Format.ADBLOCK
    if not plain and votes["comment!"] > votes["comment#"]:
        return Format.ADBLOCK
    return Format.DOMAINS
