"""RPZ: a Response Policy Zone file, read as draft-vixie-dnsop-dns-rpz defines it.

The file is a DNS master file (RFC 1035 section 5.1): `;` comments,
parentheses continuing a record over lines (SOA), `$ORIGIN` and `$TTL`,
owners relative to the origin (`@` is the origin itself, a blank owner
repeats the previous one), optional TTL and class fields in either order.

A record's owner is its trigger once the zone's apex is stripped (the apex
is the SOA owner, or the first `$ORIGIN` when the SOA comes later): with
`$ORIGIN rpz.example.`, `ads.example.com CNAME .` triggers on
`ads.example.com`. Only QNAME triggers are read; `rpz-ip`, `rpz-client-ip`,
`rpz-nsdname` and `rpz-nsip` triggers are skipped and counted. An owner
`*.x` matches the names below x, not x (RPZ wildcards are DNS wildcards),
which is the glob `*.x`; any other owner matches exactly that name.

Actions (the draft's section on policy actions):

- `CNAME .`: NXDOMAIN. A block.
- `CNAME *.`: NODATA. Read as a block (dnsfence has one answer for blocked
  names) and also counted under its own reason, so lint shows the difference.
- `CNAME rpz-passthru.`: PASSTHRU, an exception (ALLOW). The older spelling,
  a CNAME to the trigger name itself, is read the same way (BIND ARM).
- `CNAME rpz-drop.`, `CNAME rpz-tcp-only.`, a CNAME to any other name, and
  local data (A, AAAA, TXT...): skipped and counted by action.

SOA, NS and directives are the zone's structure, not policy: they are not
counted as considered lines. `$INCLUDE` and `$GENERATE` are counted and
skipped (a source is one file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from resolver.lists.formats.lines import check_name, source_lines
from resolver.policy.model import Action, Scope
from resolver.policy.names import InvalidName

if TYPE_CHECKING:
    from resolver.lists.formats.parsed import ParsedSource

NODATA_REASON = "RPZ NODATA (CNAME *.) answered as NXDOMAIN (taken)"

_CLASSES = frozenset({"IN", "CH", "HS", "CS"})
_TTL = re.compile(r"\d+(?:[smhdwSMHDW](?:\d+[smhdwSMHDW])*)?")
_TYPES = frozenset(
    {
        "A", "AAAA", "AFSDB", "APL", "CAA", "CDNSKEY", "CDS", "CERT", "CNAME", "DHCID",
        "DNAME", "DNSKEY", "DS", "HINFO", "HTTPS", "IPSECKEY", "KEY", "LOC", "MX",
        "NAPTR", "NS", "NSEC", "NSEC3", "NSEC3PARAM", "OPENPGPKEY", "PTR", "RP",
        "RRSIG", "SMIMEA", "SOA", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI",
    }
)
_GENERIC_TYPE = re.compile(r"TYPE\d+")
_OTHER_TRIGGERS = frozenset({"rpz-ip", "rpz-client-ip", "rpz-nsdname", "rpz-nsip"})
_SPECIAL_TARGETS = {"rpz-drop": "RPZ action rpz-drop", "rpz-tcp-only": "RPZ action rpz-tcp-only"}


def _strip_comment(line: str) -> str:
    """The line without its `;` comment (a `;` inside a quoted string is data)."""
    if ";" not in line:
        return line
    if '"' not in line:
        return line[: line.index(";")]
    quoted = False
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return line[:i]
    return line


def _records(lines: list[str]) -> Iterator[tuple[int, str, bool]]:
    """(first line number, record text, owner omitted) with parentheses joined."""
    pending: list[str] = []
    first = 0
    blank_owner = False
    depth = 0
    for number, raw in enumerate(lines, 1):
        text = _strip_comment(raw)
        if not pending:
            if not text.strip():
                continue
            first = number
            blank_owner = text[:1] in (" ", "\t")
        opened = text.count("(") - text.count(")")
        if opened or depth:
            text = text.replace("(", " ").replace(")", " ")
        depth += opened
        pending.append(text)
        if depth <= 0:
            depth = 0
            yield first, " ".join(pending), blank_owner
            pending = []
    if pending:
        yield first, " ".join(pending), blank_owner


def _absolute(name: str, origin: str) -> str:
    """`name` as a full name without the trailing dot ("" is the root)."""
    name = name.lower()
    if name == "@":
        return origin
    if name.endswith("."):
        return name[:-1]
    return f"{name}.{origin}" if origin else name


class _Zone:
    """The master-file state a record is read in: origin, apex and previous owner."""

    __slots__ = ("apex", "origin", "owner")

    def __init__(self) -> None:
        self.origin = ""
        self.apex: str | None = None
        self.owner: str | None = None

    def trigger(self, owner: str) -> str:
        """The owner relative to the apex; raise InvalidName when it is not below it."""
        apex = self.apex
        if not apex:
            trigger = owner
        elif owner == apex:
            trigger = ""
        elif owner.endswith("." + apex):
            trigger = owner[: -len(apex) - 1]
        else:
            raise InvalidName(f"owner {owner!r} is outside the policy zone {apex!r}")
        if not trigger:
            raise InvalidName("a policy record at the zone apex triggers on nothing")
        return trigger


def _directive(out: ParsedSource, zone: _Zone, number: int, fields: list[str]) -> None:
    keyword = fields[0].upper()
    if keyword == "$ORIGIN":
        if len(fields) < 2:
            out.invalid.append((number, "$ORIGIN needs a name"))
            return
        zone.origin = _absolute(fields[1], zone.origin)
        if zone.apex is None:
            zone.apex = zone.origin
    elif keyword == "$TTL":
        return
    elif keyword in ("$INCLUDE", "$GENERATE"):
        out.considered += 1
        out.skipped[f"RPZ {keyword} not followed"] += 1
    else:
        out.considered += 1
        out.invalid.append((number, f"unknown directive {fields[0]!r}"))


def _record_type(fields: list[str]) -> tuple[str, list[str]] | None:
    """(TYPE, rdata) after the optional TTL and class fields, or None if there is no type."""
    for i, field in enumerate(fields[:3]):
        upper = field.upper()
        if upper in _TYPES or _GENERIC_TYPE.fullmatch(upper):
            return upper, fields[i + 1 :]
        if upper not in _CLASSES and not _TTL.fullmatch(field):
            return None
    return None


def _policy(out: ParsedSource, number: int, trigger: str, action: Action) -> None:
    wildcard = trigger.startswith("*.") or trigger == "*"
    if "*" in (trigger[2:] if wildcard else trigger):
        out.invalid.append((number, f"{trigger!r}: an RPZ wildcard is a whole leftmost '*' label"))
        return
    try:
        name = check_name(trigger, allow_glob=wildcard)
    except InvalidName as exc:
        out.invalid.append((number, str(exc)))
        return
    scope = Scope.SUBTREE if wildcard else Scope.EXACT
    out.names.setdefault((action, scope), []).append(name)


def _record(out: ParsedSource, zone: _Zone, number: int, fields: list[str], blank: bool) -> None:
    if blank:
        if zone.owner is None:
            out.considered += 1
            out.invalid.append((number, "a record with no owner name before it"))
            return
        owner = zone.owner
    else:
        owner = _absolute(fields[0], zone.origin)
        fields = fields[1:]
        zone.owner = owner
    typed = _record_type(fields)
    if typed is None:
        out.considered += 1
        out.invalid.append((number, f"no record type in {' '.join(fields)[:60]!r}"))
        return
    rtype, rdata = typed
    if rtype == "SOA":
        zone.apex = owner
        return
    if rtype == "NS":
        return
    out.considered += 1
    try:
        trigger = zone.trigger(owner)
    except InvalidName as exc:
        out.invalid.append((number, str(exc)))
        return
    kind = trigger.rsplit(".", 1)[-1]
    if kind in _OTHER_TRIGGERS:
        out.skipped[f"RPZ trigger {kind}"] += 1
        return
    if rtype != "CNAME":
        out.skipped[f"RPZ action local data {rtype}"] += 1
        return
    if not rdata:
        out.invalid.append((number, "CNAME with no target"))
        return
    target = rdata[0].lower()
    if target == ".":
        _policy(out, number, trigger, Action.BLOCK)
    elif target == "*.":
        out.skipped[NODATA_REASON] += 1
        _policy(out, number, trigger, Action.BLOCK)
    elif target == "rpz-passthru." or target == trigger + ".":
        _policy(out, number, trigger, Action.ALLOW)
    elif target.endswith(".") and target[:-1] in _SPECIAL_TARGETS:
        out.skipped[_SPECIAL_TARGETS[target[:-1]]] += 1
    else:
        out.skipped["RPZ action CNAME to a name"] += 1


def parse(text: str, out: ParsedSource) -> None:
    """Add the QNAME policies of an RPZ zone file to `out`."""
    zone = _Zone()
    for number, record, blank in _records(source_lines(text)):
        fields = record.split()
        if not fields:
            continue
        if fields[0].startswith("$") and not blank:
            _directive(out, zone, number, fields)
        else:
            _record(out, zone, number, fields, blank)
