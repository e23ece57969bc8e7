"""The names the benchmark uses: blocked names from the lists, allowed names from a top list.

Every server measured gets the same blocked names, so only plain entries (a name and
everything below it) are used: dnsmasq's `address=/x/` and Unbound's `local-zone` have no
equivalent of dnsfence's one-label globs, so glob entries are left out of the other
servers' configs and no query is generated for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"
TOPLIST = CORPORA / "toplists" / "umbrella-top-100k.txt"
LARGE_LIST = CORPORA / "blocklists" / "large" / "hagezi-union-onlydomains.txt"
SHIPPED_LISTS = REPO / "blocklists"

# Names no server forwards as-is: reverse zones and special-use TLDs (RFC 6761, 6762, 7686,
# 8375, 9476). Unbound answers several itself, so they would not be "forwarded" there.
SPECIAL_USE = (".arpa", ".local", ".localhost", ".test", ".invalid", ".example", ".onion",
               ".alt", ".internal", ".lan", ".home", ".corp")


@dataclass(frozen=True, slots=True)
class BlockedNames:
    """One blocklist variant: the directory dnsfence reads and the plain names it blocks."""

    label: str                 # "shipped" or "600k"
    directory: Path            # what `dnsfence serve --blocklists` gets
    plain: tuple[str, ...]     # names blocked with everything below them (all servers)
    globs: tuple[str, ...]     # dnsfence-only entries, left out of dnsmasq/Unbound


def read_domains_file(path: Path) -> list[str]:
    """A one-name-per-line file (comments with #), lower case, without duplicates."""
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            name = line.split("#", 1)[0].strip().lower().rstrip(".")
            if name:
                seen[name] = None
    return list(seen)


def _entry_text(entry: object) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("domain"), str):
        return str(entry["domain"])
    return None


def shipped_entries(directory: Path = SHIPPED_LISTS) -> tuple[list[str], list[str]]:
    """(plain, glob) `domains:` entries of the shipped YAML lists.

    Read with PyYAML rather than dnsfence's loader so that the benchmark does not depend
    on the loader's internals; `allow:` entries are ignored (the shipped lists have none
    that a generated query could hit, since queries use random labels under blocked names).
    """
    plain: dict[str, None] = {}
    globs: dict[str, None] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if path.name.startswith("."):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("domains") or ():
            text = _entry_text(entry)
            if text is None:
                continue
            name = text.strip().lower().rstrip(".")
            (globs if "*" in name else plain)[name] = None
    return list(plain), list(globs)


def _glob_matches(pattern: str, name: str) -> bool:
    """dnsfence's glob semantics: `*.x` is every name below x; `v*.x` matches one label
    (`v16.x`) and every name below such a name; a `*` never crosses a dot."""
    labels = pattern.split(".")
    qlabels = name.split(".")
    if len(qlabels) < len(labels):
        return False
    if labels[0] == "*":
        return qlabels[len(qlabels) - len(labels) + 1:] == labels[1:]
    tail = qlabels[len(qlabels) - len(labels):]
    return all(fnmatchcase(q, p) for q, p in zip(tail, labels, strict=True))


def covered(name: str, plain: set[str], globs: Sequence[str] = ()) -> bool:
    """Is `name` or one of its parents in `plain`, or does a glob match it?"""
    labels = name.split(".")
    for i in range(len(labels)):
        if ".".join(labels[i:]) in plain:
            return True
    return any(_glob_matches(g, name) for g in globs)


def allowed_names(candidates: Iterable[str], blocked: Iterable[BlockedNames]) -> list[str]:
    """Top-list names that no variant blocks, so they are forwarded or cached everywhere."""
    variants = [(set(b.plain), b.globs) for b in blocked]
    out = []
    for name in candidates:
        if "*" in name or "." not in name or name.endswith(SPECIAL_USE) \
                or any(len(label) > 63 for label in name.split(".")):
            continue
        if not any(covered(name, plain, globs) for plain, globs in variants):
            out.append(name)
    return out
