"""Writing a value as a YAML scalar the loader reads back as that same value."""

from __future__ import annotations

import json
from collections.abc import Collection

import yaml

from resolver.lists.marks import YamlSyntaxError, compose


def reads_back(value: str, tags: Collection[str], *, flow: bool = False) -> bool:
    """Whether `value` written plain reads back (as the loader reads it) as itself, as a
    mapping value or, with `flow`, inside `[...]`."""
    try:
        node = compose("<value>", f"k: [{value}]\n" if flow else f"k: {value}\n")
    except YamlSyntaxError:
        return False
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        return False
    scalar = node.value[0][1]
    if flow:
        if not isinstance(scalar, yaml.SequenceNode) or len(scalar.value) != 1:
            return False
        scalar = scalar.value[0]
    return (isinstance(scalar, yaml.ScalarNode) and not scalar.style  # plain: None or ''
            and scalar.value == value and scalar.tag in tags)


STR_TAGS = ("tag:yaml.org,2002:str",)
WHEN_TAGS = (*STR_TAGS, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int")


def scalar(value: str, *, when: bool = False, flow: bool = False) -> str:
    """`value` as a YAML scalar: plain when that reads back the same, else double-quoted.

    Dates stay plain (`2023-03-20`), as admins write them; names that YAML would read
    as something else (`"*.example.com"`, `"null"`) are quoted.
    """
    if reads_back(value, WHEN_TAGS if when else STR_TAGS, flow=flow):
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one
