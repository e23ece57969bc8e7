"""Where the real list files for these tests live, and small helpers to read parse results.

Small lists are copied into tests/data/formats (see tests/data/LICENSES.md);
big ones are read from the shared corpora, and their tests skip when the
corpora are not there (set DNSFENCE_CORPORA to point elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Scope
from resolver.policy.model import Action

DATA = Path(__file__).resolve().parents[2] / "data" / "formats"
CORPORA = Path(
    os.environ.get("DNSFENCE_CORPORA", Path(__file__).resolve().parents[4] / "shared" / "corpora")
)
BLOCK, ALLOW = Action.BLOCK, Action.ALLOW
EXACT, SUBTREE = Scope.EXACT, Scope.SUBTREE


def list_text(relative: str) -> str:
    """A list file by its path under corpora/blocklists (the test copy when there is one)."""
    copy = DATA / relative
    if copy.is_file():
        return copy.read_text(encoding="utf-8")
    path = CORPORA / "blocklists" / relative
    if not (CORPORA / "blocklists").is_dir():
        pytest.skip(f"corpora not found at {CORPORA} (set DNSFENCE_CORPORA)")
    return path.read_text(encoding="utf-8")


def entries(parsed: ParsedSource) -> dict[tuple[str, str], list[str]]:
    """names as {("block", "exact"): [...]} for readable assertions."""
    return {(a.value, s.value): v for (a, s), v in parsed.names.items()}


def only(parsed: ParsedSource, action: Action, scope: Scope) -> list[str]:
    """The names of one (action, scope), asserting there are no others."""
    assert set(parsed.names) <= {(action, scope)}, entries(parsed)
    return parsed.names_for(action, scope)
