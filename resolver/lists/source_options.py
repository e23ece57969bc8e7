"""The values of a `sources:` entry's keys: text as written -> what a SourceSpec holds."""

from __future__ import annotations

from pathlib import Path

from resolver.lists.sources import Format
from resolver.policy.model import Action, Scope

SOURCE_KEYS = ("path", "url", "format", "as", "match", "refresh", "max_invalid")

_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> float:
    """'24h', '30m', '7d', '3600' -> seconds."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _DURATION else "s"
    number = raw[:-1] if raw[-1:] in _DURATION else raw
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30m, 24h or 7d") from None
    if value <= 0:
        raise ValueError("a duration must be positive")
    return value * _DURATION[unit]


def source_option(key: str, value: str, base: Path) -> object:
    if key == "path":
        return base / value
    if key == "url":
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r}: only http:// and https:// URLs are fetched "
                             "(for a local file write `path:`)")
        return value
    if key == "format":
        try:
            return Format(value.lower())
        except ValueError:
            known = ", ".join(f.value for f in Format)
            raise ValueError(f"unknown format {value!r} (known: {known})") from None
    if key == "as":
        if value.lower() not in ("block", "allow"):
            raise ValueError("write `as: allow` (entries become exceptions) or `as: block`")
        return Action(value.lower())
    if key == "match":
        if value.lower() not in ("subtree", "exact"):
            raise ValueError("write `match: subtree` (names block their subdomains too) or "
                             "`match: exact`")
        return Scope(value.lower())
    if key == "refresh":
        return parse_duration(value)
    if key == "max_invalid":
        share = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
        if not 0 <= share <= 1:
            raise ValueError("write a share such as 10% or 0.1")
        return share
    raise ValueError(f"unknown key {key!r}")
