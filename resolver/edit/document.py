"""A list file as the editor sees it: its exact text, ruamel.yaml's nodes, its entries.

ruamel.yaml's round-trip composer gives every node with its exact span, which is
what lets an edit splice only the lines it changes (resolver.edit.splice).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from resolver.lists.list_file import parse_list
from resolver.lists.problems import Problem
from resolver.policy.model import Action
from resolver.policy.names import InvalidName, normalise_pattern

SECTION = {Action.BLOCK: "domains", Action.ALLOW: "allow"}
_NULLS = ("", "~", "null", "Null", "NULL")


class EditError(Exception):
    """A change that cannot be made; the message says why and what to do instead, after
    the `problems` lint would report (the directory's errors, before or after the edit)."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry to write: a normalised name, its own dates as written, a comment."""

    name: str
    effective: str | None = None
    expires: str | None = None
    comment: str | None = None

    @property
    def dated(self) -> bool:
        return self.effective is not None or self.expires is not None


@dataclass(frozen=True, slots=True)
class Listed:
    """An entry as the file has it (name None when it cannot be read as a name)."""

    name: str | None
    effective: str | None
    expires: str | None
    line: int


@dataclass(frozen=True, slots=True)
class ListDocument:
    """One list file's exact text and ruamel.yaml's node tree of it."""

    path: str
    text: str
    root: MappingNode

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"


def read_document(path: str, text: str) -> ListDocument:
    """Parse a list file for editing; EditError when it is not a block mapping."""
    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError as exc:
        raise EditError(f"{path}: cannot be read for editing ({exc}); run `dnsfence lint`")\
            from None
    if not isinstance(root, MappingNode) or root.flow_style:
        raise EditError(f"{path}: a list file must be a mapping (name:, effective:, domains: ...)")
    return ListDocument(path, text, root)


# --- reading entries -------------------------------------------------------------------------

def find_section(doc: ListDocument, key: str) -> tuple[ScalarNode, Node] | None:
    for key_node, value_node in doc.root.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def section_items(doc: ListDocument, key: str) -> list[Node]:
    found = find_section(doc, key)
    if found is None or is_null(found[1]):
        return []
    if not isinstance(found[1], SequenceNode):
        raise EditError(f"{doc.path}:{found[1].start_mark.line + 1}: `{key}` is not a list of "
                        "names; fix it by hand first (see `dnsfence lint`)")
    return list(found[1].value)


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style is None and node.value in _NULLS


def entry_fields(item: Node) -> dict[str, str]:
    """An entry's `domain:`, `effective:`, `expires:` (or just `domain:` for a plain name)."""
    if isinstance(item, ScalarNode):
        return {"domain": str(item.value)}
    if isinstance(item, MappingNode):
        return {str(k.value): str(v.value) for k, v in item.value
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode) and not is_null(v)}
    return {}


def check_name(text: str) -> str:
    """What an admin typed, normalised as an entry name (lower case, A-labels), or
    EditError with the loader's own reason, so a name is refused exactly as lint would."""
    probe = f"effective: 2000-01-01\nreference: probe\ndomains:\n  - {json.dumps(text)}\n"
    _, problems = parse_list("<name>", probe)
    errors = [p.message for p in problems if p.severity == "error"]
    if errors:
        raise EditError(errors[0])
    try:
        return normalise_pattern(text)
    except InvalidName as exc:  # the loader said yes; kept in case the two ever disagree
        raise EditError(str(exc)) from None


def entry_name(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return normalise_pattern(text)
    except InvalidName:
        return None


def entries(doc: ListDocument, action: Action) -> list[Listed]:
    """The entries of a list's `domains:` (BLOCK) or `allow:` (ALLOW), in file order."""
    listed = []
    for item in section_items(doc, SECTION[action]):
        fields = entry_fields(item)
        listed.append(Listed(entry_name(fields.get("domain")), fields.get("effective"),
                             fields.get("expires"), item.start_mark.line + 1))
    return listed
