"""The documented example config (dnsfence.example.yaml), generated from the settings table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from resolver.config.settings import SETTINGS


def example_config() -> str:
    """The documented example config, generated from SETTINGS."""
    lines = ["# dnsfence configuration. Every key is optional; shown with production values.",
             "# Generated from the SETTINGS table in resolver/config/settings.py."]
    current = None
    for s in SETTINGS:
        if s.section != current:
            current = s.section
            if s.section:
                lines.append(f"\n{s.section}:")
        indent = "  " if s.section else ""
        value = s.example if s.example is not None else _plain(s.default)
        default = _plain(s.default)
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        # no default value (None): the help says what happens instead
        lines.append(f"{indent}# {s.help}" + ("" if s.default is None else f" Default: {shown}"))
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            # a mapping of mappings (local records): one entry a line, as an admin writes it
            body = yaml.safe_dump(value, default_flow_style=None, sort_keys=False, width=1000)
            lines.append(f"{indent}{s.key}:")
            lines.extend(f"{indent}  {line}" for line in body.splitlines())
            continue
        shown_value = yaml.safe_dump(value, default_flow_style=True, sort_keys=False)
        lines.append(f"{indent}{s.key}: {shown_value.strip()}".replace("\n...", ""))
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return value
