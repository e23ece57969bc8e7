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

quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A JSON string literal, pure ASCII (non-ASCII as \\u escapes), as json.dumps writes it."""

_CACHE_LIMIT = 65_536
"""Entries per cache at most; a full cache starts again empty (a flood of spoofed
sources or random names cannot grow it)."""
_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))
_PROTO = ('"udp"', '"tcp"')  # by `tcp`


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

    __slots__ = ("_anonymise", "_clients", "_quoted", "_rcodes", "_second",
                 "_second_text", "_tails", "_types", "_verdicts")

    def __init__(self, anonymise: Callable[[str], str]) -> None:
        self._anonymise = anonymise
        self._second = -1
        self._second_text = ""
        self._clients: dict[str, str] = {}  # address -> its logged form, quoted: each
        # address is anonymised once (a keyed hash costs microseconds)
        self._quoted: dict[str, str] = {}  # lists, rules, upstreams, groups -> quoted
        self._tails: dict[tuple[enum.Enum, int, bool, str | None], tuple[str, str]] = {}
        self._types: dict[int, str] = {}
        self._rcodes = {-1: '""'}
        self._verdicts: dict[enum.Enum, str] = {}

    def timestamp(self, now: float) -> str:
        """RFC 3339, UTC, milliseconds: 2026-12-04T22:31:05.123Z."""
        stamp = int(now * 1000 + 0.5)  # to the nearest millisecond (times are positive)
        second = stamp // 1000
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._second_text + _MILLIS[stamp % 1000]

    def line(self, raw: RawRecord) -> str:
        """One record's line, newline included."""
        return self.lines([raw])[0]

    def lines(self, raws: list[RawRecord]) -> list[str]:
        """Each record's line, newline included, in order."""
        clients, quoted, types, verdicts = (self._clients, self._quoted, self._types,
                                            self._verdicts)
        tails = self._tails
        second, second_text = self._second, self._second_text
        out: list[str] = []
        append = out.append
        for now, client, group, query, kind, rcode, found, upstream, ms, tcp in raws:
            stamp = int(now * 1000 + 0.5)  # to the nearest millisecond (times are positive)
            if stamp // 1000 != second:
                second = stamp // 1000
                second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            client_text = clients.get(client)
            if client_text is None:
                if len(clients) >= _CACHE_LIMIT:
                    clients.clear()
                client_text = clients[client] = quote(self._anonymise(client))
            if query is None:
                name_text = type_text = '""'
            else:
                name_text = quote(query.qname)  # names are mostly new: no cache
                type_text = types.get(query.qtype) or self._type(query.qtype)
            # everything after the type repeats for a rule (blocked) or a kind: made once
            if ms is None and not upstream:
                key = (kind, rcode, tcp, None if found is None else found[1])
                tail = tails.get(key)
                if tail is None or (found is not None and tail[0] != found[0].list_name):
                    tail = self._tail(key, found)
                tail_text = tail[1]
            else:
                list_text = rule_text = '""'
                if found is not None:
                    list_text = quoted.get(found[0].list_name) or \
                        self._quote(found[0].list_name)
                    rule_text = quoted.get(found[1]) or self._quote(found[1])
                ms_text = f"{ms:.3f}" if ms is not None and math.isfinite(ms) else "null"
                tail_text = (f'"verdict":{verdicts.get(kind) or self._verdict(kind)},'
                             f'"rcode":{self._rcode_text(rcode)},'
                             f'"list":{list_text},"rule":{rule_text},'
                             f'"upstream":{quoted.get(upstream) or self._quote(upstream)},'
                             f'"ms":{ms_text},"proto":{_PROTO[tcp]}}}\n')
            append(f'{{"ts":"{second_text}{_MILLIS[stamp % 1000]}","client":{client_text},'
                   f'"group":{quoted.get(group) or self._quote(group)},'
                   f'"name":{name_text},"type":{type_text},{tail_text}')
        self._second, self._second_text = second, second_text
        return out

    def _tail(self, key: tuple[enum.Enum, int, bool, str | None], found: Found | None
              ) -> tuple[str, str]:
        """The part of a line after the type, for answers with no upstream nor time."""
        kind, rcode, tcp, pattern = key
        list_name = "" if found is None else found[0].list_name
        text = (f'"verdict":{quote(kind.name.lower())},"rcode":{self._rcode_text(rcode)},'
                f'"list":{quote(list_name)},"rule":{quote(pattern or "")},'
                f'"upstream":"","ms":null,"proto":{_PROTO[tcp]}}}\n')
        if len(self._tails) >= _CACHE_LIMIT:
            self._tails.clear()
        tail = self._tails[key] = (list_name, text)
        return tail

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
