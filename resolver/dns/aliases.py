"""CNAME and DNAME chains: the names an upstream answer passes through on its way to the data.

A name on no list may alias one that is (some CDN names only ever appear as CNAME
targets), so a block must see the whole chain, not just the question. The chain is read
once per upstream message, when it arrives (the cache reads it in the walk it already
makes), and kept with it: every later check is a few dict lookups, never a parse.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable

from resolver.dns import message
from resolver.dns.message import (
    TYPE_CNAME,
    TYPE_DNAME,
    MalformedMessage,
    Record,
    records,
    skip_questions,
)
from resolver.dns.names import labels_text, read_name

COUNTS = message.COUNTS

_ALIAS_TYPES = frozenset((TYPE_CNAME, TYPE_DNAME))


class Unread(enum.Enum):
    """Said of a message whose chain nobody has read yet (`chain_of` will)."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


Link = tuple[str, str, str]
"""One CNAME or DNAME record: (kind, owner, target), kind "CNAME" or "DNAME" as the EDE
text names it, names in `Query.qname` form. A plain tuple: one is made per alias record of
every upstream answer, and a named one would run Python code each time."""


class AliasChain:
    """The alias records of one answer section, in the order the upstream sent them.

    Compared by identity: one chain belongs to one stored message, and a memo keyed by it
    must not hash its names on every lookup. Its links and names never change.
    """

    __slots__ = ("clear_in", "links", "names")

    def __init__(self, links: tuple[Link, ...], names: tuple[str, ...]) -> None:
        self.links = links
        self.names = names
        """Every owner and target once, in order of appearance: what a check looks up."""
        self.clear_in: object = None
        """Left by a checker: the policy period in which it found nothing to act on in this
        chain, so that every later check within that period is one attribute read."""

    def path_to(self, name: str) -> str:
        """The links up to the first that names `name`, as people read them:
        'CNAME www.example.com → v16.tiktokcdn.com', consecutive links of one kind joined
        ('CNAME a.test → b.test → c.test'), others after a comma."""
        parts: list[str] = []
        previous: Link | None = None
        for link in self.links:
            kind, owner, target = link
            if previous is not None and previous[0] == kind and previous[2] == owner:
                parts.append(f" → {target}")
            else:
                parts.append(f"{', ' if parts else ''}{kind} {owner} → {target}")
            if name in (owner, target):
                break
            previous = link
        return "".join(parts)


def chain_in(msg: bytes, answers: Iterable[Record], qname: str | None = None
             ) -> AliasChain | None:
    """The chain of the answer-section records `answers` (framed by `message.records`),
    None when none is a CNAME or DNAME. MalformedMessage if a name cannot be read.

    `qname`, the question's name as `Query.qname` spells it, saves reading the name most
    chains start with: the first owner is usually a pointer to it, and each next owner a
    pointer to the target before, so a chain of n links reads n names, not 2n.
    """
    known: dict[int, str] = {} if qname is None else {12: qname}
    links = []
    names: dict[str, None] = {}
    for owner, rtype, _, rdata, _ in answers:
        if rtype in _ALIAS_TYPES:
            owner_name = None
            if msg[owner] >= 0xC0:  # the usual owner: a pointer to a name read before
                owner_name = known.get(((msg[owner] & 0x3F) << 8) | msg[owner + 1])
            if owner_name is None:
                owner_name = known[owner] = labels_text(read_name(msg, owner)[0])
            target = known[rdata] = labels_text(read_name(msg, rdata)[0])
            links.append(("CNAME" if rtype == TYPE_CNAME else "DNAME", owner_name, target))
            names[owner_name] = names[target] = None
    if not links:
        return None
    return AliasChain(tuple(links), tuple(names))


def chain_of(msg: bytes, qname: str | None = None) -> AliasChain | None:
    """The chain of a whole message, for one nobody walked before (one the cache does not
    keep); None without alias records, and for a message that cannot be walked (the
    caller passes only upstream messages, which the forwarder has framed already).

    A message with no alias record of a class below 256 (every class in use) holds
    neither the bytes of a CNAME's nor of a DNAME's TYPE and CLASS: one substring search
    each tells most answers apart without a walk.
    """
    if msg.find(b"\x00\x05\x00", 12) < 0 and msg.find(b"\x00\x27\x00", 12) < 0:
        return None
    try:
        qdcount, ancount = COUNTS.unpack_from(msg, 4)[:2]
        if not ancount:
            return None
        return chain_in(msg, records(msg, skip_questions(msg, qdcount), ancount), qname)
    except (MalformedMessage, struct.error):
        return None
