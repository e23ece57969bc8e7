"""Reading YAML while keeping the line of every value, so errors can name file:line.

PyYAML's composer (C-accelerated when libyaml is present) gives a node tree with
marks; we walk it ourselves instead of constructing Python objects, which also
keeps dates as the strings the admin wrote and lets us refuse duplicate keys.
"""

from __future__ import annotations

import yaml

from resolver.lists.problems import Problem
from resolver.policy.model import Location

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


class YamlSyntaxError(Exception):
    """The file is not YAML at all; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def location(path: str, node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(path, mark.line + 1, mark.column + 1)


def compose(path: str, text: str) -> yaml.Node | None:
    """Parse one YAML document into nodes; raise YamlSyntaxError with file:line:col."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        detail = exc.problem or "invalid YAML"
        if exc.context:
            detail = f"{exc.context}, {detail}"
            start = exc.context_mark
            if start is not None and mark is not None and start.line != mark.line:
                detail += f" (it started at line {start.line + 1}, column {start.column + 1})"
        raise YamlSyntaxError(
            Problem(where, f"YAML syntax error: {detail} ({_advice(text, mark)})")
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(Problem(Location(path), f"YAML error: {exc}")) from exc
    return node


def _advice(text: str, mark: yaml.Mark | None) -> str:
    """What usually causes a syntax error at `mark`, for the two mistakes admins make most."""
    lines = text.splitlines()
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    stripped = line.lstrip(" ")
    if stripped.startswith("\t") or "\t" in line[: len(line) - len(stripped) + 2]:
        return "indent with spaces: YAML does not allow tabs there"
    if stripped.lstrip("- ").startswith("*"):
        return "quote an entry that starts with '*': - \"*.example.com\""
    return "check indentation and quoting"


def mapping_items(
    path: str, node: yaml.MappingNode, problems: list[Problem]
) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """(key, key node, value node) for each key; duplicate and non-string keys reported."""
    seen: dict[str, int] = {}
    items: list[tuple[str, yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem(location(path, key_node), "keys must be plain words"))
            continue
        key = str(key_node.value)
        if key in seen:
            problems.append(
                Problem(
                    location(path, key_node),
                    f"key {key!r} is given twice (first on line {seen[key]}); keep one",
                )
            )
            continue
        seen[key] = key_node.start_mark.line + 1
        items.append((key, key_node, value_node))
    return items


def scalar_text(node: yaml.Node) -> str | None:
    """The text of a scalar as written (None for null or a non-scalar)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return str(node.value)
