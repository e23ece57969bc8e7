"""Reading a list's `clients:` and `except_clients:` (the groups it applies to, or not).

Group names are declared under `groups:` in the config; a list that names an unknown
group is an error at its file:line (a ban meant for the guests' network that silently
applies to nobody, or an exemption that silently exempts nobody, is worse than a list
that does not load).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

import yaml

from resolver.lists.marks import location, scalar_text
from resolver.lists.problems import Problem
from resolver.policy.audience import Audience

AUDIENCE_KEYS = ("clients", "except_clients")


def _names(path: str, key: str, node: yaml.Node, known: Collection[str] | None,
           problems: list[Problem]) -> list[str]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    names: list[str] = []
    for item in items:
        text = scalar_text(item)
        if text is None or not text.strip():
            problems.append(Problem(location(path, item),
                                    f"`{key}` lists group names, e.g. {key}: [press-office]"))
            continue
        name = text.strip()
        if known is not None and name not in known:
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            declared = f" (known: {', '.join(sorted(known))})" if known else \
                " (none is declared)"
            problems.append(Problem(location(path, item), (
                f"unknown group {name!r} in `{key}`{hint}; groups are declared under "
                f"`groups:` in the config{declared}")))
            continue
        if name not in names:
            names.append(name)
    return names


def parse_audience(path: str, fields: dict[str, yaml.Node],
                   known: Collection[str] | None, problems: list[Problem]
                   ) -> Audience | None:
    """The list's audience, or None when it applies to every client. `known` is the
    config's group names (None: not checked, for callers without a config)."""
    given = {key: fields[key] for key in AUDIENCE_KEYS if key in fields}
    if not given:
        return None
    before = len(problems)
    only = _names(path, "clients", given["clients"], known, problems) \
        if "clients" in given else []
    excluded = _names(path, "except_clients", given["except_clients"], known, problems) \
        if "except_clients" in given else []
    both = set(only) & set(excluded)
    if both:
        problems.append(Problem(location(path, given["except_clients"]), (
            f"group {sorted(both)[0]!r} is in both `clients` and `except_clients`; "
            "a list either applies to a group or exempts it")))
    if len(problems) > before or not (only or excluded):
        return None
    return Audience(tuple(only), tuple(excluded))
