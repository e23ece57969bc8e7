"""Files that ship to users say what things are, not where they came from in our tracker.

An entry's comment in a blocklist, a line in the deploy config or a benchmark note must make
sense to someone who never saw the project's issues or work sessions. And the licence the
package declares is the licence file that ships.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SINGLE_FILES = ("dnsfence.example.yaml", "Dockerfile", "docker-compose.yml", "README.md")

# "issue 10", "issue #2", "dnsfence issue": references to the project's tracker
TRACKER = re.compile(r"\bissues?\s*#?\s*\d+|\bdnsfence\s+issues?\b|(?<![\w&])#\d+\b(?!;)",
                     re.IGNORECASE)
# "session" in a blocklist or the deploy config can only mean a work session; elsewhere
# (a README may well speak of TLS sessions) only phrases that mean one
SESSION = re.compile(r"\bsessions?\b", re.IGNORECASE)
WORK_SESSION = re.compile(r"\b(?:this|that|last|previous|earlier|other|work)\s+sessions?\b",
                          re.IGNORECASE)


def shipped_files() -> list[Path]:
    files = [REPO / name for name in SINGLE_FILES]
    files += sorted(p for p in (REPO / "blocklists").iterdir() if p.is_file())
    files += sorted(p for p in (REPO / "deploy").rglob("*") if p.is_file())
    files += sorted((REPO / "docs").glob("*.md"))
    return files


def lines_matching(path: Path, pattern: re.Pattern[str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def test_every_shipped_file_is_there() -> None:
    for name in SINGLE_FILES:
        assert (REPO / name).is_file(), name
    assert any(p.suffix == ".yaml" for p in (REPO / "blocklists").iterdir())
    assert (REPO / "deploy" / "dnsfence.yaml").is_file()
    assert (REPO / "docs" / "BENCHMARKS.md").is_file()


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_tracker_or_work_session_references(path: Path) -> None:
    assert lines_matching(path, TRACKER) == []
    assert lines_matching(path, WORK_SESSION) == []


@pytest.mark.parametrize("path", [p for p in shipped_files()
                                  if p.relative_to(REPO).parts[0] in ("blocklists", "deploy")],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_work_sessions_in_lists_or_deploy_config(path: Path) -> None:
    assert lines_matching(path, SESSION) == []


def test_the_patterns_catch_what_they_are_for_and_spare_ordinary_text() -> None:
    for internal in ("# dnsfence issue #2 (EU counterpart)", "see issue 10", "fixed in #12",
                     "Issues #3 and #4"):
        assert TRACKER.search(internal), internal
    for ordinary in ("an issue with the upstream", "ticket 4711", "color: #fff", "&#39;",
                     "## Development", "port 5353  # the default"):
        assert not TRACKER.search(ordinary), ordinary
    assert SESSION.search("what changed in this session")
    assert not SESSION.search("start_new_session")
    assert WORK_SESSION.search("other sessions share its two cores")
    assert not WORK_SESSION.search("TLS session resumption")


def test_the_licence_file_is_the_one_pyproject_declares() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert declared["project"]["license"] == {"text": "MIT"}
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License\n")
    assert "Copyright (c) 2026 the dnsfence authors" in licence
    assert "Permission is hereby granted, free of charge" in licence
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in licence
    assert "[LICENSE](LICENSE)" in (REPO / "README.md").read_text(encoding="utf-8")
