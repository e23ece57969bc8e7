"""Rules seen the way the list tests compare them: by pattern, and where each is written."""

from __future__ import annotations

from pathlib import Path

from resolver.policy.model import Rule


def by_pattern(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    return {rule.pattern: rule for rule in rules}


def where_of(rule: Rule) -> str:
    """'list.yaml:4:5': where a rule's name is written."""
    return f"{Path(rule.location.file).name}:{rule.location.line}:{rule.location.column}"
