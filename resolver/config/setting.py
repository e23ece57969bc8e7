"""One config key's declaration, and the parsers its value goes through.

Every key is declared once (a Setting: section, key, default, help, parser);
validation, defaults and the documented example config all come from those
declarations (as Pi-hole FTL does), so they cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolver.lists.problems import Problem
from resolver.policy.instants import InstantError, zone


@dataclass(frozen=True, slots=True)
class Setting:
    """One key: where it lives, its default, what it means, how it is read."""

    section: str
    key: str
    default: Any
    help: str
    parse: Callable[[Any], Any]
    example: Any = None
    read: Callable[[Any, str], Any] | None = None
    """For a value with many entries, each worth its own file:line: reads the YAML node
    (and the file's name) instead of `parse`, raising `NodeProblems`."""


class NodeProblems(ValueError):
    """What a `Setting.read` found wrong, each problem at its own file:line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class KeyedValueError(ValueError):
    """A bad value under one key of a mapping setting: the error is reported at that key's
    line, not at the setting's."""

    def __init__(self, key: Any, message: str) -> None:
        super().__init__(message)
        self.key = key


def number(kind: type, low: float, high: float) -> Callable[[Any], Any]:
    """A parser for an int or float from `low` to `high`."""
    def parse(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {value!r}")
        if kind is int and not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, not {value!r}")
        return kind(value)
    return parse


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")


def duration(high: int) -> Callable[[Any], int]:
    """A parser for a length of time up to `high` seconds, as whole seconds: a number of
    seconds, or text such as `90`, `30m`, `12h`, `1d`, `1w` (admins think of serve-stale and
    the like in hours and days, not in 86400s). 0 is allowed: it turns the feature off."""
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"must be a duration such as 30m, 12h or 1d, not {value!r}")
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            found = _DURATION.fullmatch(str(value).strip().lower())
            if found is None:
                raise ValueError(f"must be a duration such as 30m, 12h or 1d, not {value!r}")
            seconds = float(found[1]) * _UNITS[found[2]]
        if not 0 <= seconds <= high:
            raise ValueError(f"must be between 0 and {high}s, not {value!r}")
        return round(seconds)
    return parse


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def timezone_name(value: Any) -> str:
    try:
        zone(str(value))
    except InstantError as exc:
        raise ValueError(str(exc)) from None
    return str(value)


def directory_path(value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a directory path")
    return Path(value)


def one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    """A parser for one word out of `choices`."""
    def parse(value: Any) -> str:
        # YAML reads a bare `off` as false: take it as the word the admin wrote
        if value is False and "off" in choices:
            return "off"
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return value
    return parse
