"""One local record's value, from the text an admin wrote to its normalised text and RDATA.

Each reader takes the value exactly as written in the YAML (no YAML typing: `TXT: yes`
stays "yes", an unquoted IPv6 address stays an address) and raises ValueError with a
message that says what to write instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from resolver.dns import rdata
from resolver.policy.names import InvalidName, normalise_query_name

MAX_TXT = 4096
"""Octets of one TXT value: far above SPF or DKIM needs, and an answer stays well under
the 65,535 octets a DNS message can hold."""

Value = tuple[str, bytes, str]
"""(normalised text, RDATA, target name of a CNAME or "")."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_address(text: str) -> IPAddress:
    """An IPv4 or IPv6 address (no zone index: `%eth0` means nothing to other hosts)."""
    try:
        if "%" in text:
            raise ValueError
        return ipaddress.ip_address(text)
    except ValueError:
        looks_like_one = text and not text.strip("0123456789abcdefABCDEF.:")
        hint = "" if looks_like_one else (" (for another type, write it as a mapping, "
                                          "e.g. {CNAME: intranet.corp.example.eu})")
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address{hint}") from None


def domain_name(text: str, *, root: bool = False) -> str:
    """A normalised domain name; `root` lets "." stand for no host (null MX, no SRV)."""
    if root and text.strip() == ".":
        return ""
    if "*" in text:
        raise ValueError(f"{text!r}: wildcards are not supported in local records")
    try:
        return normalise_query_name(text)
    except InvalidName as exc:
        raise ValueError(str(exc)) from None


def _a(text: str) -> Value:
    ip = ip_address(text)
    if ip.version != 4:
        raise ValueError(f"{text!r} is an IPv6 address: write it under AAAA")
    return str(ip), rdata.address(ip), ""


def _aaaa(text: str) -> Value:
    ip = ip_address(text)
    if ip.version != 6:
        raise ValueError(f"{text!r} is an IPv4 address: write it under A")
    return ip.compressed, rdata.address(ip), ""


def _name(text: str) -> Value:
    name = domain_name(text)
    return name, rdata.domain_name(name), name


def _numbers(text: str, fields: int, shape: str) -> tuple[list[int], str]:
    parts = text.split()
    if len(parts) != fields:
        raise ValueError(f"{text!r} is not {shape}")
    numbers = []
    for part in parts[:-1]:
        if not part.isdecimal() or int(part) > 65535:
            raise ValueError(f"{text!r}: {part!r} is not a number from 0 to 65535 ({shape})")
        numbers.append(int(part))
    return numbers, domain_name(parts[-1], root=True)


def _mx(text: str) -> Value:
    (preference,), exchange = _numbers(text, 2, "PREFERENCE NAME, e.g. "
                                       "'10 mail.corp.example.eu'")
    return f"{preference} {exchange or '.'}", rdata.mx(preference, exchange), ""


def _srv(text: str) -> Value:
    (priority, weight, port), target = _numbers(
        text, 4, "PRIORITY WEIGHT PORT TARGET, e.g. '0 100 389 dc1.corp.example.eu'")
    return (f"{priority} {weight} {port} {target or '.'}",
            rdata.srv(priority, weight, port, target), "")


def _txt(text: str) -> Value:
    size = len(text.encode("utf-8"))
    if size > MAX_TXT:
        raise ValueError(f"the text is {size} octets long (at most {MAX_TXT})")
    return text, rdata.txt(text), ""


READERS: dict[int, Callable[[str], Value]] = {
    rdata.TYPE_A: _a, rdata.TYPE_AAAA: _aaaa, rdata.TYPE_CNAME: _name,
    rdata.TYPE_PTR: _name, rdata.TYPE_MX: _mx, rdata.TYPE_SRV: _srv, rdata.TYPE_TXT: _txt,
}
"""The reader of each type's value."""


def address_value(text: str) -> tuple[int, Value]:
    """A value written without a type: A or AAAA by the address's form."""
    ip = ip_address(text)
    if ip.version == 4:
        return rdata.TYPE_A, _a(text)
    return rdata.TYPE_AAAA, _aaaa(text)
