"""Adblock-style lists, read as AdGuard Home and Blocky read network rules for DNS.

Source: AdGuard's "DNS filtering rules syntax" (KnowledgeBaseDNS
docs/general/dns-filtering-syntax.md), checked against AdGuard's urlfilter,
which matches a rule against the query name itself.

    ||name^        name and every name below it          SUBTREE block
    @@||name^      the same, as an exception             SUBTREE allow
    |name^         that name only ("|" anchors an end)    EXACT
    name           "a simple domain rule. Blocks the example.org domain but
                   not its subdomains" (AdGuard docs); AdGuard's parser reads
                   a line that is a valid hostname as a hosts-style rule,
                   before trying it as a pattern              EXACT (plain)
    /regex/        a regular expression on the name          regex
    ! ... / # ...  comments; [Adblock Plus 2.0] headers

How patterns map to dnsfence names. In a pattern `*` is any run of
characters, dots included, `^` ends the name, `||` starts at a label
boundary. dnsfence's `*` is a glob within one label, and a SUBTREE entry
covers the name and everything below it. So:

- `||x^`, `||*x^`, `.x^`, `x^` (`*` only at the front): exactly a SUBTREE
  glob (`x`, `*x`, `*.x`, `*x`): "ends with x" and "at or below a label that
  ends with x" are the same set of names.
- `||ad*.x^` (a `*` after the first character): SUBTREE `ad*.x`. AdGuard
  also matches `ad.foo.x`, where the `*` spans a dot; dnsfence does not.
  Counted as a note "(taken)".
- `||x` with no `^`, `*.x` and `.x` with no `^`: read as if they ended with
  `^`; AdGuard would also match names that merely continue (`x.evil`,
  `xyz`). Counted as a note.
- Anything else made of hostname characters (`||ads.`, `-ad123-`,
  `|ad*.x^`, and a `*` in the last label such as `||aan.amazon.*^`, which
  must match `aan.amazon.co.uk`): translated to the regular expression
  AdGuard applies, so the source still blocks what AdGuard Home blocks.
  Counted as a note.

Skipped and counted, not errors: cosmetic rules (`##`, `#@#`, `#$#`, `#?#`
...); rules with a path or other URL parts (`||x.com/ads`, `:8080`, `?q=`);
bare `localhost`-style names (as in hosts files); rules whose pattern is an
IP address (`|1.2.3.4^`, `||158.247.208.`): a DNS forwarder sees names, not
addresses; rules with modifiers. AdGuard's docs
say a rule with a modifier they do not list "must be ignored" (`$third-party`,
`$script`, `$domain=`...); the DNS modifiers they do list (`$important`,
`$badfilter`, `$denyallow`, `$client`, `$ctag`, `$dnstype`, `$dnsrewrite`) are
not implemented by dnsfence, so those rules are skipped too, each counted as
"modifier $<name>". One exception: a `$badfilter` rule also disables the rules
of the same source whose text it repeats ("||x^$badfilter" disables "||x^"),
as AdGuard Home does; those count as "disabled by $badfilter".

Blocks of `||name^` (or `@@||name^`) lines take the same fast path as the
domains format (see `domains.plain_block`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from resolver.lists.formats.lines import (
    BLOCK,
    LOCAL_REASON,
    check_name,
    is_local_name,
    plain_block,
    source_lines,
)
from resolver.lists.formats.regex import add_regex
from resolver.policy.model import Action, Scope
from resolver.policy.names import InvalidName

if TYPE_CHECKING:
    from resolver.lists.formats.parsed import ParsedSource

COSMETIC_REASON = "cosmetic rule"
PATH_REASON = "rule with a path"
URL_REASON = "rule for URL parts other than a name"
IP_RULE_REASON = "IP address rule"
BADFILTER_REASON = "disabled by $badfilter"
NO_END_NOTE = "adblock rule without ^ read as ending there (taken)"
SPANNING_GLOB_NOTE = "adblock * read within one label (taken)"
AS_REGEX_NOTE = "adblock pattern applied as a regex (taken)"

DNS_MODIFIERS = frozenset(
    {"important", "badfilter", "denyallow", "client", "ctag", "dnstype", "dnsrewrite"}
)
_COSMETIC_MARKERS = (
    "##", "#@#", "#?#", "#@?#", "#$#", "#@$#", "#$?#", "#@$?#", "#%#", "#@%#", "$$", "$@$",
)
_HASH_COSMETIC = tuple(m for m in _COSMETIC_MARKERS if m.startswith("#"))
_SCHEMES = ("http://", "https://", "ws://", "wss://", "*://", "://")
_NOT_A_RULE = re.compile(r"[\s<>\"'{}`\\]")
# Non-ASCII letters are let through: normalise_pattern turns them into A-labels.
_HOST_CHARS = re.compile(r"[^a-z0-9._*^\u0080-\U0010ffff-]")
# Digits with dots or colons (and wildcards): an address or an address prefix.
_IP_LIKE = re.compile(r"(?=.*[0-9])(?=.*[.:])[0-9.*:]+")
_NAME_END = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def modifier_reason(modifiers: str) -> str:
    """The reason a rule with these modifiers is skipped.

    `$badfilter` first (the rule exists to disable another); then a non-DNS
    modifier (why AdGuard itself ignores the rule); else the DNS modifier
    dnsfence does not implement.
    """
    names = [m.strip().lstrip("~").split("=", 1)[0].lower() for m in modifiers.split(",")]
    if "badfilter" in names:
        return "modifier $badfilter"
    for name in names:
        if name not in DNS_MODIFIERS:
            return f"modifier ${name}"
    return f"modifier ${names[0]}"


def _split_modifiers(rule: str) -> tuple[str, str | None]:
    """(pattern, modifiers or None); a /regex/ keeps any `$` inside it."""
    if rule.startswith("/") and len(rule) > 1:
        if rule.endswith("/"):
            return rule, None
        cut = rule.rfind("/$")
        if cut > 0:
            return rule[: cut + 1], rule[cut + 2 :]
    cut = rule.rfind("$")
    if cut < 0:
        return rule, None
    return rule[:cut], rule[cut + 1 :]


def _badfilter_targets(lines: list[str]) -> frozenset[str]:
    """The rule texts that a `$badfilter` rule of this source disables."""
    targets = set()
    for raw in lines:
        if "badfilter" not in raw:
            continue
        pattern, modifiers = _split_modifiers(raw.strip())
        if modifiers is None:
            continue
        kept = [m for m in modifiers.split(",") if m.strip().lower() != "badfilter"]
        if len(kept) < len(modifiers.split(",")):
            targets.add(pattern + ("$" + ",".join(kept) if kept else ""))
    return frozenset(targets)


def _as_regex(start: str, core: str, end: bool) -> str:
    """The regular expression AdGuard applies for a hostname pattern."""
    body = "".join(".*" if c == "*" else "$" if c == "^" else re.escape(c) for c in core)
    head = {"||": r"(?:^|\.)", "|": "^", "": ""}[start]
    if not head:
        body = body.removeprefix(".*")
    if not end:
        body = body.removesuffix(".*")
    return head + body + ("$" if end else "")


def _anchors(pattern: str) -> tuple[str, str, bool]:
    """(start anchor "||", "|" or "", the pattern between the anchors, ends with ^ or |)."""
    start = ""
    if pattern.startswith("||"):
        start, pattern = "||", pattern[2:]
    elif pattern.startswith("|"):
        start, pattern = "|", pattern[1:]
    if start != "||":
        for scheme in _SCHEMES:
            if pattern.startswith(scheme):
                start, pattern = "|", pattern[len(scheme) :]
                break
    if start == "|" and pattern.startswith("*"):
        start = ""  # a leading * swallows the anchor: "|*x" is "*x"
    end = False
    if pattern.endswith("^|"):
        end, pattern = True, pattern[:-2]
    elif pattern.endswith(("^", "|")):
        end, pattern = True, pattern[:-1]
    return start, pattern, end


def _as_name(
    start: str, pattern: str, end: bool, plain: Scope
) -> tuple[str, Scope, str | None] | None:
    """(name pattern, scope, note) when dnsfence can hold the rule as a name, else None."""
    closed = end or pattern[-1] in _NAME_END
    if not closed or "*" in pattern.rsplit(".", 1)[-1]:
        return None  # `||x.` or `||aan.amazon.*^`: any TLD, which one label cannot say
    note = None if end else NO_END_NOTE
    if start == "||":
        return pattern, Scope.SUBTREE, SPANNING_GLOB_NOTE if "*" in pattern[1:] else note
    if start == "|":
        return (pattern, Scope.EXACT, None) if end and "*" not in pattern else None
    if end:
        name = pattern if pattern.startswith("*") else "*" + pattern
        return name, Scope.SUBTREE, SPANNING_GLOB_NOTE if "*" in name[1:] else None
    if "*" not in pattern and pattern[0] not in ".-":
        return pattern, plain, None  # a bare hostname: AdGuard's "simple domain rule"
    rest = None
    if pattern.startswith("."):
        rest = pattern[1:]
    elif pattern.startswith("*."):
        rest = pattern[2:]
    if rest and "*" not in rest:
        return "*." + rest, Scope.SUBTREE, note
    return None


def _pattern_entry(
    out: ParsedSource, number: int, pattern: str, action: Action, plain: Scope
) -> None:
    """Map a (non-regex, modifier-free) pattern to a name entry or a regex."""
    if _NOT_A_RULE.search(pattern):
        out.invalid.append((number, f"{pattern[:60]!r} is not an adblock rule"))
        return
    start, pattern, end = _anchors(pattern.lower())
    if "/" in pattern:
        out.skipped[PATH_REASON] += 1
        return
    if _HOST_CHARS.search(pattern):
        out.skipped[URL_REASON] += 1
        return
    if not pattern.strip("*^"):
        out.invalid.append((number, "the rule matches every name; write a name"))
        return
    if _IP_LIKE.fullmatch(pattern):
        out.skipped[IP_RULE_REASON] += 1
        return
    mapped = None if "^" in pattern else _as_name(start, pattern, end, plain)
    if mapped is None:
        _regex_entry(out, number, _as_regex(start, pattern, end), action)
        return
    name, scope, note = mapped
    try:
        normalised = check_name(name, allow_glob=scope is Scope.SUBTREE)
    except InvalidName as exc:
        out.invalid.append((number, str(exc)))
        return
    if not start and not end and is_local_name(normalised):
        out.skipped[LOCAL_REASON] += 1  # a bare "localhost", as in hosts files
        return
    if note is not None:
        out.skipped[note] += 1
    out.names.setdefault((action, scope), []).append(normalised)


def _regex_entry(out: ParsedSource, number: int, pattern: str, action: Action) -> None:
    out.skipped[AS_REGEX_NOTE] += 1
    add_regex(out, action, pattern, number)


def _one_line(
    out: ParsedSource, number: int, raw: str, plain: Scope, disabled: frozenset[str]
) -> None:
    line = raw.strip()
    if not line or line[0] == "!":
        return
    if line[0] == "#" and not line.startswith(_HASH_COSMETIC):
        return  # "# ..." is a comment, "##.ad" a cosmetic rule
    if line[0] == "[" and line[-1] == "]":
        return  # [Adblock Plus 2.0]
    out.considered += 1
    if disabled and line in disabled:
        out.skipped[BADFILTER_REASON] += 1
        return
    is_regex = line.startswith(("/", "@@/"))
    if not is_regex and any(marker in line for marker in _COSMETIC_MARKERS):
        out.skipped[COSMETIC_REASON] += 1
        return
    action = Action.BLOCK
    if line.startswith("@@"):
        action, line = Action.ALLOW, line[2:]
    pattern, modifiers = _split_modifiers(line)
    if modifiers is not None:
        out.skipped[modifier_reason(modifiers)] += 1
        return
    if len(pattern) > 2 and pattern[0] == "/" and pattern[-1] == "/":
        add_regex(out, action, pattern[1:-1], number)
        return
    if not pattern:
        out.invalid.append((number, "an empty rule"))
        return
    _pattern_entry(out, number, pattern, action, plain)


def _fast_block(joined: str, size: int) -> tuple[Action, list[str]] | None:
    """(action, names) for a block whose every line is `||name^` (or `@@||name^`)."""
    for head, action in (("||", Action.BLOCK), ("@@||", Action.ALLOW)):
        if (
            joined.startswith(head)
            and joined.endswith("^")
            and joined.count("^\n" + head) == size - 1
        ):
            names_joined = joined[len(head) : -1].replace("^\n" + head, "\n")
            names = names_joined.split("\n")
            if plain_block(names_joined, names):
                return action, names
    return None


def parse(text: str, out: ParsedSource, plain: Scope) -> None:
    """Add the network rules of an adblock-style `text` to `out`; bare names get `plain`."""
    lines = source_lines(text)
    disabled = _badfilter_targets(lines) if "badfilter" in text else frozenset()
    for start in range(0, len(lines), BLOCK):
        block = lines[start : start + BLOCK]
        fast = None if disabled else _fast_block("\n".join(block), len(block))
        if fast is not None:
            action, names = fast
            out.names.setdefault((action, Scope.SUBTREE), []).extend(names)
            out.considered += len(block)
            continue
        for offset, raw in enumerate(block):
            _one_line(out, start + offset + 1, raw, plain, disabled)
