"""One query-log line from the raw values the query path handed over.

The query path only builds a tuple (`RawRecord`); the ISO time, the mnemonics, the
anonymised client and the JSON escaping are made here, in the writer's thread. The line
is built by hand around the json module's own string encoder (the one `json.dumps`
uses), which is faster than dumping a dict and escapes every string the same way.
"""

from __future__ import annotations

import enum
import json.encoder
import math
import time
from collections.abc import Callable

from dnslib import QTYPE

from resolver.dns.message import rcode_name

RawRecord = tuple[float, str, str, str, int, enum.Enum, int, str, str, str, "float | None",
                  bool]
"""(now, client address, group, name, qtype or -1 when there was no usable question,
response kind (its lower-case name is the verdict), rcode or -1 when the packet was
dropped, list, rule, upstream, ms or None, tcp)."""

KEYS = ("ts", "client", "group", "name", "type", "verdict", "rcode", "list", "rule",
        "upstream", "ms", "proto")
"""The line's keys, in the order every line has them."""

_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A JSON string literal, pure ASCII (non-ASCII as \\u escapes), as json.dumps writes it."""


def type_name(qtype: int) -> str:
    """The mnemonic of a query type (TYPE<n> when it has none); "" for -1 (no question)."""
    if qtype < 0:
        return ""
    name = QTYPE.forward.get(qtype)
    return name if isinstance(name, str) else f"TYPE{qtype}"


class RecordFormatter:
    """Raw records -> JSON lines (without the newline), with small caches of what repeats:
    the time up to the second, mnemonics, verdicts, quoted names of lists and upstreams."""

    __slots__ = ("_anonymise", "_quoted", "_second", "_second_text", "_types", "_verdicts")

    def __init__(self, anonymise: Callable[[str], str]) -> None:
        self._anonymise = anonymise
        self._second = -1
        self._second_text = ""
        self._types: dict[int, str] = {}
        self._verdicts: dict[enum.Enum, str] = {}
        self._quoted: dict[str, str] = {}

    def timestamp(self, now: float) -> str:
        """RFC 3339, UTC, milliseconds: 2026-12-04T22:31:05.123Z."""
        second, millis = divmod(round(now * 1000), 1000)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{millis:03d}Z"

    def line(self, raw: RawRecord) -> str:
        now, client, group, name, qtype, kind, rcode, list_name, rule, upstream, ms, tcp = raw
        type_text = self._types.get(qtype)
        if type_text is None:
            type_text = self._types[qtype] = _quote(type_name(qtype))
        verdict = self._verdicts.get(kind)
        if verdict is None:
            verdict = self._verdicts[kind] = _quote(kind.name.lower())
        return "".join((
            '{"ts":"', self.timestamp(now),
            '","client":', _quote(self._anonymise(client)),
            ',"group":', self._once(group),
            ',"name":', _quote(name),
            ',"type":', type_text,
            ',"verdict":', verdict,
            ',"rcode":', '""' if rcode < 0 else self._once(rcode_name(rcode)),
            ',"list":', self._once(list_name),
            ',"rule":', _quote(rule),
            ',"upstream":', self._once(upstream),
            ',"ms":', f"{ms:.3f}" if ms is not None and math.isfinite(ms) else "null",
            ',"proto":', '"tcp"}' if tcp else '"udp"}'))

    def _once(self, text: str) -> str:
        """`text` quoted, for the few strings that repeat (lists, upstreams, groups)."""
        quoted = self._quoted.get(text)
        if quoted is None:
            if len(self._quoted) >= 4096:
                self._quoted.clear()
            quoted = self._quoted[text] = _quote(text)
        return quoted
