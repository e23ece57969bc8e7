"""Query-log lines from the raw values the query path handed over.

The query path only builds a tuple (`RawRecord`) of references it already holds; the ISO
time, the mnemonics, the client's logged form and the JSON are made here, in the
writer's thread, a batch at a time. The writer shares the GIL with the query path, so
this is made cheap too: one f-string per line around the json module's own string
encoder (the one `json.dumps` uses, so every string is escaped as json.dumps would),
and small caches for what repeats (clients, lists, rules, upstreams, the second).
"""

from __future__ import annotations

import enum
import json.encoder
import math
import time
from collections.abc import Callable
from typing import Final

from dnslib import QTYPE

from resolver.dns.message import rcode_name
from resolver.dns.query import Query
from resolver.policy.index import Found

RawRecord = tuple[float, str, str, "Query | None", enum.Enum, int, "Found | None", str,
                  "float | None", bool]
"""(now, client address, group, the query or None when there was no usable question,
response kind (its lower-case name is the verdict), RCODE or -1 when the packet was
dropped, the deciding rule and pattern of a blocked answer or None, upstream, ms or
None, tcp). References the query path already holds: building it costs one tuple."""

KEYS = ("ts", "client", "group", "name", "type", "verdict", "rcode", "list", "rule",
        "upstream", "ms", "proto")
"""The line's keys, in the order every line has them."""

quote: Final[Callable[[str], str]] = json.encoder.encode_basestring_ascii
"""A JSON string literal, pure ASCII (non-ASCII as \\u escapes), as json.dumps writes it."""

_CACHE_LIMIT: Final = 65_536
"""Entries per cache at most; a full cache starts again empty (a flood of spoofed
sources or random names cannot grow it)."""
_MILLIS: Final = tuple(f".{n:03d}Z" for n in range(1000))
_MILLIS_THEN_CLIENT: Final = tuple(f'{millis}","client":' for millis in _MILLIS)
_PROTO: Final = ('"udp"', '"tcp"')  # by `tcp`


class RecordQueue:
    """The bounded queue between the query path and the writer's thread.

    Compiled, the compiled stage calls `submit` directly (an interpreted closure would cost
    an interpreter frame per record). Safe between the two threads under the GIL, the
    query path's thread being the only one to submit: it only appends (one list append)
    and counts overflow; the writer's thread only takes a prefix (`take`: one slice, then
    one slice deletion), so a record appended in between stays for the next batch.
    """

    __slots__ = ("_items", "limit", "overflow")

    def __init__(self, limit: int) -> None:
        self._items: list[RawRecord] = []
        self.limit = limit
        self.overflow = 0
        """Records dropped because the queue was full."""

    def submit(self, raw: RawRecord) -> None:
        """Queue one record; when the queue is full, drop and count it."""
        items = self._items
        if len(items) < self.limit:
            items.append(raw)
        else:
            self.overflow += 1

    def take(self) -> list[RawRecord]:
        """Every record queued, oldest first; the queue keeps those submitted meanwhile."""
        items = self._items
        count = len(items)
        taken = items[:count]
        del items[:count]
        return taken

    def __len__(self) -> int:
        return len(self._items)


def type_name(qtype: int) -> str:
    """The mnemonic of a query type (TYPE<n> when it has none)."""
    name = QTYPE.forward.get(qtype)
    return name if isinstance(name, str) else f"TYPE{qtype}"


class RecordFormatter:
    """Raw records -> JSON lines, each ending in a newline."""

    __slots__ = ("_anonymise", "_clients", "_groups", "_head", "_kind", "_kind_code",
                 "_kinds", "_quoted", "_rcodes", "_second", "_tails", "_types", "_verdicts")

    def __init__(self, anonymise: Callable[[str], str]) -> None:
        self._anonymise = anonymise
        self._second = -1
        self._head = ""  # '{"ts":"' and the time to that second
        # the caches hold each text with the line's next key after it: fewer pieces a line
        self._clients: dict[str, str] = {}  # address -> its logged form, quoted: each
        # address is anonymised once (a keyed hash costs microseconds)
        self._groups: dict[str, str] = {}  # group -> quoted
        self._quoted: dict[str, str] = {}  # lists, rules, upstreams -> quoted
        self._tails: dict[tuple[int, int, int, bool, str | None], tuple[str, str]] = {}
        """(kind's code, type, rcode, tcp, pattern) -> (list, the line from its type on)."""
        # a kind's code, not the kind, in a key: an enum member's hash is a Python call
        self._kinds: dict[enum.Enum, int] = {}
        self._kind: enum.Enum | None = None  # the last record's kind and its code
        self._kind_code = -1
        self._types: dict[int, str] = {}
        self._rcodes = {-1: '""'}
        self._verdicts: dict[enum.Enum, str] = {}

    def timestamp(self, now: float) -> str:
        """RFC 3339, UTC, milliseconds: 2026-12-04T22:31:05.123Z."""
        stamp = int(now * 1000 + 0.5)  # to the nearest millisecond (times are positive)
        return _second_text(stamp // 1000) + _MILLIS[stamp % 1000]

    def line(self, raw: RawRecord) -> str:
        """One record's line, newline included."""
        return self.lines([raw])[0]

    def lines(self, raws: list[RawRecord]) -> list[str]:
        """Each record's line, newline included, in order."""
        clients, groups, tails = self._clients, self._groups, self._tails
        second, head = self._second, self._head
        out: list[str] = []
        for now, client, group, query, kind, rcode, found, upstream, ms, tcp in raws:
            stamp = int(now * 1000 + 0.5)  # to the nearest millisecond (times are positive)
            if stamp // 1000 != second:
                second = stamp // 1000
                head = '{"ts":"' + _second_text(second)
            client_text = clients.get(client)
            if client_text is None:
                client_text = self._client(client)
            group_text = groups.get(group)
            if group_text is None:
                group_text = self._group(group)
            if query is None:
                name_text = '""'
                qtype = -1
            else:
                name_text = quote(query.qname)  # names are mostly new: no cache
                qtype = query.qtype
            # everything from the type on repeats for a rule (blocked) or a kind: made once
            if ms is None and not upstream:
                if kind is not self._kind:
                    self._kind_code = self._kinds.get(kind) or self._new_kind(kind)
                    self._kind = kind
                key = (self._kind_code, qtype, rcode, tcp, None if found is None else found[1])
                tail = tails.get(key)
                if tail is None or (found is not None and tail[0] != found[0].list_name):
                    tail = self._tail(key, kind, found)
                tail_text = tail[1]
            else:
                tail_text = self._upstream_tail(qtype, kind, rcode, found, upstream, ms, tcp)
            out.append(f"{head}{_MILLIS_THEN_CLIENT[stamp % 1000]}{client_text}{group_text}"
                       f"{name_text}{tail_text}")
        self._second, self._head = second, head
        return out

    def _client(self, client: str) -> str:
        clients = self._clients
        if len(clients) >= _CACHE_LIMIT:
            clients.clear()
        text = clients[client] = quote(self._anonymise(client)) + ',"group":'
        return text

    def _group(self, group: str) -> str:
        if len(self._groups) >= _CACHE_LIMIT:
            self._groups.clear()
        text = self._groups[group] = quote(group) + ',"name":'
        return text

    def _new_kind(self, kind: enum.Enum) -> int:
        code = self._kinds[kind] = len(self._kinds) + 1  # never 0: `or` above
        return code

    def _type_text(self, qtype: int) -> str:
        """',"type":"A"' ('""' when there was no question)."""
        if qtype < 0:
            return ',"type":""'
        return ',"type":' + (self._types.get(qtype) or self._type(qtype))

    def _tail(self, key: tuple[int, int, int, bool, str | None], kind: enum.Enum,
              found: Found | None) -> tuple[str, str]:
        """The part of a line from the type on, for answers with no upstream nor time."""
        _, qtype, rcode, tcp, pattern = key
        list_name = "" if found is None else found[0].list_name
        text = (f'{self._type_text(qtype)},"verdict":{quote(kind.name.lower())},'
                f'"rcode":{self._rcode_text(rcode)},"list":{quote(list_name)},'
                f'"rule":{quote(pattern or "")},"upstream":"","ms":null,'
                f'"proto":{_PROTO[tcp]}}}\n')
        if len(self._tails) >= _CACHE_LIMIT:
            self._tails.clear()
        tail = self._tails[key] = (list_name, text)
        return tail

    def _upstream_tail(self, qtype: int, kind: enum.Enum, rcode: int, found: Found | None,
                       upstream: str, ms: float | None, tcp: bool) -> str:
        """The part of a line from the type on, for answers with an upstream or a time."""
        quoted = self._quoted
        list_text = rule_text = '""'
        if found is not None:
            list_text = quoted.get(found[0].list_name) or self._quote(found[0].list_name)
            rule_text = quoted.get(found[1]) or self._quote(found[1])
        ms_text = f"{ms:.3f}" if ms is not None and math.isfinite(ms) else "null"
        return (f'{self._type_text(qtype)},'
                f'"verdict":{self._verdicts.get(kind) or self._verdict(kind)},'
                f'"rcode":{self._rcode_text(rcode)},"list":{list_text},"rule":{rule_text},'
                f'"upstream":{quoted.get(upstream) or self._quote(upstream)},'
                f'"ms":{ms_text},"proto":{_PROTO[tcp]}}}\n')

    def _rcode_text(self, rcode: int) -> str:
        return self._rcodes.get(rcode) or self._rcode(rcode)

    def _quote(self, text: str) -> str:
        if len(self._quoted) >= _CACHE_LIMIT:
            self._quoted.clear()
        quoted = self._quoted[text] = quote(text)
        return quoted

    def _type(self, qtype: int) -> str:
        quoted = self._types[qtype] = quote(type_name(qtype))
        return quoted

    def _rcode(self, rcode: int) -> str:
        quoted = self._rcodes[rcode] = quote(rcode_name(rcode))
        return quoted

    def _verdict(self, kind: enum.Enum) -> str:
        quoted = self._verdicts[kind] = quote(kind.name.lower())
        return quoted


def chunk_ends(lines: list[str], limit: int) -> list[int]:
    """Where to cut `lines` into chunks of whole lines, each at most `limit` characters (a
    longer line is a chunk of its own): each chunk's end index. Compiled: a loop per
    record the writer's thread would otherwise interpret."""
    ends: list[int] = []
    start = size = 0
    for index, line in enumerate(lines):
        if size + len(line) > limit and index > start:
            ends.append(index)
            start = index
            size = 0
        size += len(line)
    if len(lines) > start:
        ends.append(len(lines))
    return ends


def _second_text(second: int) -> str:
    """2026-12-04T22:31:05: the time to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
