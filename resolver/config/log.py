"""`log:`: how much the server says, and in which shape (text for people, JSON for stacks)."""

from __future__ import annotations

from dataclasses import dataclass

from resolver.config.setting import Setting, one_of

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

SETTINGS = (
    Setting("log", "level", "info", "Least severe level written: debug, info, warning, error.",
            one_of(LEVELS)),
    Setting("log", "format", "text",
            "text (one line per event) or json (one object per line: ts, level, msg, fields).",
            one_of(FORMATS)),
)


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str
    format: str
