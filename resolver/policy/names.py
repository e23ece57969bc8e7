"""Turning what an admin typed into a normalised domain name, or saying why not.

Names are stored lower case, as A-labels (punycode), without a trailing dot.
Underscores are accepted because real DNS uses them (`_dmarc`, `_sip._tcp`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

MAX_NAME = 253
MAX_LABEL = 63

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")
_GLOB_LABEL = re.compile(r"[a-z0-9_*-]+\Z")
_BAD_CHAR = re.compile(r"[^a-z0-9_.*-]")
_FULL_STOPS = {0x3002: ".", 0xFF0E: ".", 0xFF61: "."}
_PORT = re.compile(r"^(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")


class InvalidName(ValueError):
    """A domain name that cannot be used, with a message for the admin."""


def _to_ascii(label: str) -> str:
    if label.isascii():
        return label.lower()
    try:
        return str(idna.encode(label, uts46=True, transitional=False).decode("ascii"))
    except idna.IDNAError as exc:
        raise InvalidName(f"label {label!r} is not a valid internationalised name ({exc})") from exc


def _suggest_host(text: str) -> str | None:
    """The host part of a URL, host:port or path, if one can be read."""
    candidate = text if "://" in text else "//" + text
    try:
        host = urlsplit(candidate).hostname
    except ValueError:
        return None
    if host:
        return host.rstrip(".")
    return None


def normalise_pattern(text: str, *, allow_glob: bool = True) -> str:
    """Validate and normalise a blocklist entry; raise InvalidName saying what to do."""
    raw = text.strip()
    if not raw:
        raise InvalidName("empty domain name")
    if "://" in raw:
        host = _suggest_host(raw)
        hint = f"; did you mean {host}?" if host else ""
        raise InvalidName(f"{raw!r} looks like a URL{hint} (write the domain name only)")
    port = _PORT.match(raw)
    if port and not port.group("host").replace(".", "").isdigit():
        raise InvalidName(
            f"{raw!r} looks like host:port; did you mean {port.group('host').lower()}? "
            "(ports are not part of a domain name)"
        )
    if "/" in raw:
        host = _suggest_host(raw)
        hint = f"; did you mean {host}?" if host else ""
        raise InvalidName(f"{raw!r} looks like a path{hint} (write the domain name only)")
    if "@" in raw:
        raise InvalidName(f"{raw!r} looks like an e-mail address, not a domain name")
    # IDNA (UTS #46) treats these full stops as label separators too.
    raw = raw.translate(_FULL_STOPS)
    name = raw[:-1] if raw.endswith(".") else raw
    if not name:
        raise InvalidName("the root '.' cannot be blocked")
    labels = name.split(".")
    out = []
    for label in labels:
        if not label:
            raise InvalidName(f"{raw!r} has an empty label (two dots in a row, or a leading dot)")
        if "*" in label and not label.isascii():
            raise InvalidName(f"{raw!r}: a label with '*' must be ASCII (write it in punycode)")
        ascii_label = _to_ascii(label) if "*" not in label else label.lower()
        bad = _BAD_CHAR.search(ascii_label)
        if bad:
            raise InvalidName(
                f"{raw!r} contains {bad.group()!r}, which no DNS name holds "
                "(letters, digits, '-' and '_' only)"
            )
        if "*" in ascii_label:
            if not allow_glob:
                raise InvalidName(f"{raw!r}: wildcards are not allowed here")
            if not _GLOB_LABEL.match(ascii_label):
                raise InvalidName(f"{raw!r}: label {label!r} is not a valid wildcard label")
        elif not _LABEL.match(ascii_label):
            raise InvalidName(
                f"{raw!r}: label {label!r} may not start or end with a hyphen"
            )
        if len(ascii_label) > MAX_LABEL:
            raise InvalidName(
                f"{raw!r}: label {label[:20]!r}... is {len(ascii_label)} octets long (at most 63)"
            )
        out.append(ascii_label)
    result = ".".join(out)
    if len(result) > MAX_NAME:
        raise InvalidName(f"{raw[:40]!r}... is {len(result)} octets long (at most 253)")
    if "*" in result and result.replace("*", "").replace(".", "") == "":
        raise InvalidName(f"{raw!r} would match every name; write a domain after the wildcard")
    return result


def normalise_query_name(text: str) -> str:
    """A name to look up (no wildcards): lower case, A-labels, no trailing dot."""
    return normalise_pattern(text, allow_glob=False)
