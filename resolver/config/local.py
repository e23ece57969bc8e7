"""`local:`: the office's own names (intranet hosts, the printer, the AD domain's MX and SRV).

    local:
      ttl: 300
      zones: {lab.corp.example.eu: static}
      records:
        intranet.corp.example.eu: 10.0.0.80                  # A, or AAAA by the address's form
        printer.corp.example.eu: [10.0.0.90, "fd00::90"]
        wiki.corp.example.eu: {CNAME: intranet.corp.example.eu}
        corp.example.eu: {MX: "10 mail.corp.example.eu", TXT: "v=spf1 -all"}
        _ldap._tcp.corp.example.eu: {SRV: "0 100 389 dc1.corp.example.eu"}

A name's value is an address, a list of addresses, or a mapping of type to a value or a
list of values. `records` is read from the YAML nodes, not from constructed values, so
every problem names the line of the very entry, and values are taken as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from resolver.config.local_values import READERS, address_value, domain_name
from resolver.config.setting import KeyedValueError, NodeProblems, Setting, boolean, number
from resolver.dns.rdata import TYPE_CNAME, TYPE_NAMES, TYPES
from resolver.lists.marks import location, mapping_items, scalar_text
from resolver.lists.problems import Problem
from resolver.policy.model import Location

STATIC = "static"
TRANSPARENT = "transparent"
_EXAMPLE_RECORD = "e.g. {intranet.corp.example.eu: 10.0.0.80}"


@dataclass(frozen=True, slots=True)
class LocalRecord:
    """One record of one local name, as written at `location`."""

    name: str
    """Lower case, A-labels, no trailing dot."""
    rtype: int
    value: str
    """The value in normalised text ("10 mail.corp.example.eu"), for messages."""
    rdata: bytes
    target: str = ""
    """A CNAME's target name."""
    location: Location = field(default=Location("<config>"), compare=False)
    """Where it was written: a moved line is not a changed record."""

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.rtype]


@dataclass(frozen=True, slots=True)
class LocalZone:
    """A zone whose names without records are NXDOMAIN (`static`) or forwarded."""

    name: str
    static: bool


@dataclass(frozen=True, slots=True)
class LocalConfig:
    ttl: int
    ptr: bool
    zones: tuple[LocalZone, ...]
    records: tuple[LocalRecord, ...]


def local_zones(value: Any) -> tuple[LocalZone, ...]:
    """{zone: static | transparent} -> the zones, in the order written."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of zone names to static or transparent, "
                         "e.g. {lab.corp.example.eu: static}")
    zones: dict[str, LocalZone] = {}
    for key, kind in value.items():
        if str(key).strip() in ("", "."):
            raise KeyedValueError(key, "the root cannot be a local zone")
        try:
            name = domain_name(str(key))
        except ValueError as exc:
            raise KeyedValueError(key, str(exc)) from None
        if kind not in (STATIC, TRANSPARENT):
            raise KeyedValueError(key, f"zone {name!r}: {kind!r} is neither {STATIC} (names "
                                  f"without records do not exist) nor {TRANSPARENT} (they "
                                  "are forwarded)")
        if name in zones:
            raise KeyedValueError(key, f"zone {name!r} is given twice")
        zones[name] = LocalZone(name, kind == STATIC)
    return tuple(zones.values())


def read_records(node: yaml.Node, where: str) -> tuple[LocalRecord, ...]:
    """Every record of `local.records`; NodeProblems lists each problem at its line."""
    problems: list[Problem] = []
    if isinstance(node, yaml.ScalarNode) and scalar_text(node) is None:
        return ()
    if not isinstance(node, yaml.MappingNode):
        raise NodeProblems([Problem(location(where, node), "must be a mapping of names to "
                                    f"addresses or records, {_EXAMPLE_RECORD}")])
    records: list[LocalRecord] = []
    first_at: dict[str, int] = {}
    for key, key_node, value_node in mapping_items(where, node, problems):
        at = location(where, key_node)
        try:
            name = domain_name(key)
        except ValueError as exc:
            problems.append(Problem(at, f"{exc}"))
            continue
        if name in first_at:
            problems.append(Problem(at, f"{name} is given twice (first on line "
                                    f"{first_at[name]}); keep one"))
            continue
        first_at[name] = key_node.start_mark.line + 1
        records.extend(_records_of(name, key_node, value_node, where, problems))
    if problems:
        raise NodeProblems(problems)
    return tuple(records)


def _records_of(name: str, key_node: yaml.Node, node: yaml.Node, where: str,
                problems: list[Problem]) -> list[LocalRecord]:
    """One name's records: from an address, a list of addresses, or {TYPE: value(s)}."""
    found: list[LocalRecord] = []
    if isinstance(node, yaml.MappingNode):
        for type_text, type_node, values in mapping_items(where, node, problems):
            rtype = TYPES.get(type_text.upper())
            if rtype is None:
                problems.append(Problem(location(where, type_node), (
                    f"{name}: {type_text!r} is not a record type dnsfence serves "
                    f"(known: {', '.join(TYPES)})")))
                continue
            found.extend(_typed(name, rtype, type_node, values, where, problems))
        cnames = [r for r in found if r.rtype == TYPE_CNAME]
        if cnames and len(found) > 1:
            others = sorted({r.type_name for r in found} - {"CNAME"})
            problems.append(Problem(cnames[0].location, (
                f"{name} has a CNAME beside other records"
                + (f" ({', '.join(others)})" if others else "")
                + "; an alias holds no other data (RFC 1034 3.6.2): keep one")))
            return []
        if not found and not node.value:
            problems.append(Problem(location(where, key_node), f"{name} has no records"))
        return found
    for value_node in _items(name, key_node, node, where, problems):
        text = _text(name, value_node, where, problems)
        if text is None:
            continue
        try:
            rtype, (value, data, target) = address_value(text)
        except ValueError as exc:
            problems.append(Problem(location(where, value_node), f"{name}: {exc}"))
            continue
        found.append(LocalRecord(name, rtype, value, data, target,
                                 location(where, value_node)))
    return found


def _typed(name: str, rtype: int, type_node: yaml.Node, node: yaml.Node, where: str,
           problems: list[Problem]) -> list[LocalRecord]:
    type_name = TYPE_NAMES[rtype]
    items = _items(f"{name} {type_name}", type_node, node, where, problems)
    if rtype == TYPE_CNAME and len(items) > 1:
        problems.append(Problem(location(where, items[1]),
                                f"{name} has more than one CNAME; an alias has one target"))
        return []
    found: list[LocalRecord] = []
    seen: set[str] = set()
    for value_node in items:
        text = _text(f"{name} {type_name}", value_node, where, problems)
        if text is None:
            continue
        try:
            value, data, target = READERS[rtype](text)
        except ValueError as exc:
            problems.append(Problem(location(where, value_node), f"{name} {type_name}: {exc}"))
            continue
        if value not in seen:  # a record set holds each record once (RFC 2181 5)
            seen.add(value)
            found.append(LocalRecord(name, rtype, value, data, target,
                                     location(where, value_node)))
    return found


def _items(what: str, key_node: yaml.Node, node: yaml.Node, where: str,
           problems: list[Problem]) -> list[yaml.Node]:
    """The value nodes of a value or a list of values (none: a problem)."""
    if isinstance(node, yaml.SequenceNode):
        items: list[yaml.Node] = list(node.value)
    elif isinstance(node, yaml.ScalarNode) and scalar_text(node) is None:
        items = []
    else:
        items = [node]
    if not items:
        problems.append(Problem(location(where, key_node), f"{what} has no value"))
    return items


def _text(what: str, node: yaml.Node, where: str, problems: list[Problem]) -> str | None:
    """A value's text as written, or None (a problem) when it is not a plain value."""
    text = scalar_text(node)
    if text is None:
        kind = "an empty value" if isinstance(node, yaml.ScalarNode) else "a nested list " \
            "or mapping"
        problems.append(Problem(location(where, node), f"{what}: {kind} is not a record value"))
    return text


def parse_records(value: Any) -> tuple[LocalRecord, ...]:
    """`read_records` for a value given as Python data (the documented example, tests)."""
    where = "<value>"
    node = yaml.compose(yaml.safe_dump(value, sort_keys=False))
    if node is None:
        return ()
    try:
        return read_records(node, where)
    except NodeProblems as exc:
        raise ValueError("; ".join(p.message for p in exc.problems)) from None


SETTINGS = (
    Setting("local", "ttl", 300, "TTL of the local records' answers, seconds.",
            number(int, 0, 604_800)),
    Setting("local", "ptr", True,
            "Answer the reverse name (PTR) of each local A/AAAA address with the first name "
            "written with it, unless a PTR record is written for it.", boolean),
    Setting("local", "zones", (),
            "Zones whose names without records are NXDOMAIN (`static`) rather than "
            "forwarded (`transparent`, the default for every name); the closest zone "
            "decides.", local_zones, {"lab.corp.example.eu": STATIC}),
    Setting("local", "records", (),
            "The office's own names, answered here with AA set (blocklists still apply "
            "first): an address, a list of addresses, or {TYPE: value(s)} with TYPE "
            "A, AAAA, CNAME, TXT, MX, SRV or PTR.", parse_records, {
                "intranet.corp.example.eu": "10.0.0.80",
                "printer.corp.example.eu": ["10.0.0.90", "fd00::90"],
                "wiki.corp.example.eu": {"CNAME": "intranet.corp.example.eu"},
                "corp.example.eu": {"MX": "10 mail.corp.example.eu", "TXT": "v=spf1 -all"},
                "_ldap._tcp.corp.example.eu": {"SRV": "0 100 389 dc1.corp.example.eu"},
            }, read=read_records),
)
