"""A list's external sources: what the YAML says about each one.

`sources:` entries in a list file become SourceSpec values; the formats package
turns a source's text into entries, and resolver.fetch downloads URL sources.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from resolver.policy.model import Action, Location, Scope


class Format(enum.Enum):
    DOMAINS = "domains"
    HOSTS = "hosts"
    ADBLOCK = "adblock"
    RPZ = "rpz"
    REGEX = "regex"
    AUTO = "auto"



@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One `sources:` entry of a list file."""

    list_name: str
    location: Location          # where the entry is written in the YAML
    path: Path | None           # local file (absolute, resolved against the YAML's folder)
    url: str | None             # remote source
    format: Format = Format.AUTO
    action: Action = Action.BLOCK   # `as: allow` turns entries into exceptions
    match: Scope | None = None      # `match: subtree` widens plain names; None = the format's own
    refresh: float = 86_400.0       # seconds between downloads of a URL source
    max_invalid_share: float = 0.10  # more unparseable lines than this share is an error

    @property
    def label(self) -> str:
        return self.url if self.url is not None else str(self.path)
