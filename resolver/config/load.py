"""Reading the config file: every problem reported at its file:line, nothing half-applied."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from resolver.config.setting import KeyedValueError, NodeProblems, Setting
from resolver.config.settings import ORDERED, SECTIONS, SETTINGS, Config
from resolver.config.upstream import ca_file_problem
from resolver.lists.marks import YamlSyntaxError, compose, location, mapping_items
from resolver.lists.problems import Problem, unknown_key_message
from resolver.policy.model import Location


class ConfigError(Exception):
    """The config file has problems; each names file:line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _build(values: dict[tuple[str, str], Any], source: Path | None) -> Config:
    sections = {}
    for name, cls in SECTIONS.items():
        sections[name] = cls(**{s.key: values.get((name, s.key), s.default)
                                for s in SETTINGS if s.section == name})
    blocklists = values.get(("", "blocklists"), Path("blocklists"))
    if source is not None and not blocklists.is_absolute():
        blocklists = source.parent / blocklists
    cache_dir = sections["lists"].cache_dir
    if source is not None and not cache_dir.is_absolute():
        sections["lists"] = replace(sections["lists"], cache_dir=source.parent / cache_dir)
    ca_file = sections["upstream"].ca_file
    if source is not None and ca_file is not None and not ca_file.is_absolute():
        sections["upstream"] = replace(sections["upstream"], ca_file=source.parent / ca_file)
    token_file = sections["http"].token_file
    if source is not None and token_file is not None and not token_file.is_absolute():
        sections["http"] = replace(sections["http"], token_file=source.parent / token_file)
    state_dir = values.get(("", "state_dir"), Path(".dnsfence-state"))
    if source is not None and not state_dir.is_absolute():
        state_dir = source.parent / state_dir
    return Config(blocklists, values.get(("", "timezone"), "UTC"), source=source,
                  state_dir=state_dir, groups=values.get(("", "groups"), ()),
                  forward_zones=values.get(("", "forward_zones"), ()), **sections)


def defaults() -> Config:
    return _build({}, None)


def load_config(path: Path) -> Config:
    """Read and validate a config file; ConfigError lists every problem."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(Location(where), f"cannot read config file: {exc.strerror}")])\
            from None
    try:
        root = compose(where, text)
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem]) from None
    problems: list[Problem] = []
    values: dict[tuple[str, str], Any] = {}
    if root is None:
        return _build(values, path)
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([Problem(location(where, root), "the config must be a mapping of keys")])
    by_key = {(s.section, s.key): s for s in SETTINGS}
    top_keys = [s.key for s in SETTINGS if not s.section] + list(SECTIONS)
    constructor = SafeConstructor()
    nodes: dict[tuple[str, str], yaml.Node] = {}
    for key, key_node, value_node in mapping_items(where, root, problems):
        if key in SECTIONS:
            if not isinstance(value_node, yaml.MappingNode):
                problems.append(Problem(location(where, value_node),
                                        f"`{key}` must be a mapping of keys"))
                continue
            keys = [s.key for s in SETTINGS if s.section == key]
            for sub, sub_node, sub_value in mapping_items(where, value_node, problems):
                if sub not in keys:
                    problems.append(Problem(location(where, sub_node),
                                            unknown_key_message(sub, keys, f"`{key}`")))
                    continue
                _read(by_key[(key, sub)], sub_value, constructor, where, values, problems)
                nodes[(key, sub)] = sub_value
        elif ("", key) in by_key:
            _read(by_key[("", key)], value_node, constructor, where, values, problems)
        else:
            problems.append(Problem(location(where, key_node),
                                    unknown_key_message(key, top_keys, "the config")))
    problems.extend(_check_pairs(values, nodes, where))
    if problems:
        raise ConfigError(problems)
    config = _build(values, path)
    ca_file = config.upstream.ca_file
    if ca_file is not None:
        unusable = ca_file_problem(ca_file)
        if unusable:
            raise ConfigError([Problem(location(where, nodes[("upstream", "ca_file")]),
                                       f"`upstream.ca_file`: {unusable}")])
    return config


def _check_pairs(values: dict[tuple[str, str], Any], nodes: dict[tuple[str, str], yaml.Node],
                 where: str) -> list[Problem]:
    by_key = {(s.section, s.key): s for s in SETTINGS}
    problems = []
    for low, high, why in ORDERED:
        given = [key for key in (low, high) if key in nodes]
        if not given or any(key not in values for key in given):
            continue  # nothing to compare, or the value itself was already reported
        small = values.get(low, by_key[low].default)
        large = values.get(high, by_key[high].default)
        if small > large:
            node = nodes[given[-1]]
            problems.append(Problem(location(where, node), (
                f"`{'.'.join(low)}` ({small}) is larger than `{'.'.join(high)}` ({large}); "
                f"{why}")))
    return problems


def _read(setting: Setting, node: yaml.Node, constructor: SafeConstructor, where: str,
          values: dict[tuple[str, str], Any], problems: list[Problem]) -> None:
    name = f"{setting.section}.{setting.key}" if setting.section else setting.key
    if setting.read is not None:
        try:
            values[(setting.section, setting.key)] = setting.read(node, where)
        except NodeProblems as exc:
            problems.extend(Problem(p.location, f"`{name}`: {p.message}")
                            for p in exc.problems)
        return
    try:
        raw = constructor.construct_object(node, deep=True)
        values[(setting.section, setting.key)] = setting.parse(raw)
    except KeyedValueError as exc:
        problems.append(Problem(location(where, _value_of(node, exc.key)), f"`{name}`: {exc}"))
    except (ValueError, ConstructorError) as exc:
        problems.append(Problem(location(where, node), f"`{name}`: {exc}"))


def _value_of(node: yaml.Node, key: Any) -> yaml.Node:
    """The key's line in a mapping (the key itself when its value is empty), the item's
    in a sequence (`key` its index), else the node's."""
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
            and 0 <= key < len(node.value):
        item: yaml.Node = node.value[key]
        return item
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == key:
                found: yaml.Node = value_node if getattr(value_node, "value", None) \
                    else key_node
                return found
    return node
