"""The hosts format: `IP name [name...]`, as operating systems, Pi-hole and AdGuard Home read it.

Fields are separated by any run of spaces or TABs and `#` starts a comment
anywhere on a line (AdGuard DNS filtering syntax, "/etc/hosts syntax"). Every
name on a line counts, as AdGuard Home and Blocky read aliases, and each one
blocks that exact name, whatever the address: `0.0.0.0`, `127.0.0.1`, `::`,
`::1` and any other IP all mean "block" in a blocklist (Pi-hole ignores the
address column too). A line with a single name and no address is accepted,
as AdGuard Home and Blocky accept it.

Not blocked, counted under a reason: the names a hosts file keeps for the
machine itself (`localhost`, `broadcasthost`, `ip6-*`..., the list Pi-hole
suppresses) and IP addresses written where a name belongs.

The common line, `0.0.0.0 name` or `127.0.0.1 name`, takes the same block
fast path as the domains format (see `lines.plain_block`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resolver.lists.formats.lines import (
    BLOCK,
    IP_REASON,
    LOCAL_REASON,
    check_name,
    is_ip_address,
    is_local_name,
    plain_block,
    source_lines,
)
from resolver.policy.model import Action, Scope
from resolver.policy.names import InvalidName

if TYPE_CHECKING:
    from resolver.lists.formats.parsed import ParsedSource

_FAST_PREFIXES = ("0.0.0.0 ", "127.0.0.1 ")


def _block_names(joined: str, size: int) -> list[str] | None:
    """The names of a block whose every line is `<prefix>name`, if they are all plain."""
    for prefix in _FAST_PREFIXES:
        if joined.startswith(prefix) and joined.count("\n" + prefix) == size - 1:
            names_joined = joined[len(prefix) :].replace("\n" + prefix, "\n")
            names = names_joined.split("\n")
            return names if plain_block(names_joined, names) else None
    return None


def _one_line(out: ParsedSource, number: int, line: str, plain: list[str]) -> None:
    cut = line.find("#")
    if cut >= 0:
        line = line[:cut]
    fields = line.split()
    if not fields:
        return
    out.considered += 1
    if is_ip_address(fields[0]):
        names = fields[1:]
        if not names:
            out.invalid.append((number, f"{fields[0]!r}: an address with no names after it"))
            return
    elif len(fields) == 1:
        names = fields
    else:
        out.invalid.append(
            (number, f"{fields[0][:60]!r} is not an IP address; a hosts line is 'IP name...'")
        )
        return
    problems: list[str] = []
    for written in names:
        if is_ip_address(written):
            out.skipped[IP_REASON] += 1
            continue
        try:
            name = check_name(written)
        except InvalidName as exc:
            problems.append(str(exc))
            continue
        if is_local_name(name):
            out.skipped[LOCAL_REASON] += 1
        else:
            plain.append(name)
    if problems:
        out.invalid.append((number, "; ".join(problems)))


def parse(text: str, out: ParsedSource, plain_scope: Scope) -> None:
    """Add the entries of a hosts-format `text` to `out` with `plain_scope`."""
    lines = source_lines(text)
    plain = out.names.setdefault((Action.BLOCK, plain_scope), [])
    for start in range(0, len(lines), BLOCK):
        block = lines[start : start + BLOCK]
        fast = _block_names("\n".join(block), len(block))
        if fast is not None:
            plain.extend(fast)
            out.considered += len(block)
            continue
        for offset, line in enumerate(block):
            _one_line(out, start + offset + 1, line, plain)
