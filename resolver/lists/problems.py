"""What a check of a file found: a Problem at a file:line, for the config and the lists alike."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from resolver.policy.model import Location


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about a file: an error (nothing loads) or a warning."""

    location: Location
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


def unknown_key_message(key: str, known: Iterable[str], where: str) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"
    return f"unknown key {key!r} in {where}{hint}"
