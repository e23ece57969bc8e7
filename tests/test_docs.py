"""The examples in blocklists/README.md are real: lists lint clean, commands print what is shown.

Conventions of the README: a ```yaml block is a whole file whose first line, a comment,
names its path (`# blocklists/video.yaml`); that line is not part of the file. Blocks under
`blocklists/` must lint clean, alone and together; blocks elsewhere show mistakes for the
commands to report. A ```console block holds `$ dnsfence ...` commands, each followed by the
exact output (stdout and stderr as a terminal shows them), run in a directory holding every
example file. A table row `| `name`, `name` | ... | blocked |` states a decision in May 2023.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from resolver.lists.load import load_policy
from resolver.policy.index import PolicyIndex
from resolver.policy.model import Action

REPO = Path(__file__).resolve().parent.parent
README = REPO / "blocklists" / "README.md"
FENCE = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    path: str
    text: str


@dataclass(frozen=True)
class Command:
    line: str
    expected: str


def yaml_examples() -> list[Example]:
    examples = []
    for block in FENCE.finditer(README.read_text(encoding="utf-8")):
        if block["lang"] != "yaml":
            continue
        first, _, text = block["body"].partition("\n")
        assert first.startswith("# ") and first.endswith((".yaml", ".yml")), \
            f"a yaml example must start with '# path/file.yaml', not {first!r}"
        examples.append(Example(first[2:].strip(), text))
    return examples


def commands() -> list[Command]:
    found = []
    for block in FENCE.finditer(README.read_text(encoding="utf-8")):
        if block["lang"] != "console":
            continue
        current: list[str] = []
        for line in block["body"].splitlines():
            if line.startswith("$ "):
                current = [line[2:]]
                found.append(current)
            else:
                assert current, f"output before any command in {block['body']!r}"
                current.append(line)
    return [Command(lines[0], "".join(f"{line}\n" for line in lines[1:])) for lines in found]


def table_decisions() -> list[tuple[str, bool]]:
    """(name, blocked) from the rows of README tables whose last cell is blocked/allowed."""
    found = []
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells[-1] in ("blocked", "allowed"):
            found += [(name, cells[-1] == "blocked") for name in re.findall(r"`([^`]+)`",
                                                                            cells[0])]
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    for example in yaml_examples():
        path = root / example.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(example.text, encoding="utf-8")
    return root


def test_the_readme_has_examples_of_each_kind() -> None:
    paths = [e.path for e in yaml_examples()]
    assert len([p for p in paths if p.startswith("blocklists/")]) >= 2
    lines = [c.line for c in commands()]
    for command in ("dnsfence lint", "dnsfence check", "dnsfence schedule"):
        assert any(line.startswith(command) for line in lines), command
    assert all(c.expected for c in commands() if c.line.startswith("dnsfence check"))


@pytest.mark.parametrize("example", [e for e in yaml_examples()
                                     if e.path.startswith("blocklists/")],
                         ids=lambda e: e.path)
def test_each_example_list_lints_clean_on_its_own(tmp_path: Path, example: Example) -> None:
    (tmp_path / Path(example.path).name).write_text(example.text, encoding="utf-8")
    result = load_policy(tmp_path, "UTC")
    assert result.problems == (), "\n".join(map(str, result.problems))


@pytest.mark.parametrize("command", commands(), ids=lambda c: c.line)
def test_each_command_prints_what_the_readme_shows(workdir: Path, command: Command) -> None:
    program, *args = shlex.split(command.line)
    assert program == "dnsfence"
    done = subprocess.run([sys.executable, "-m", "resolver", *args], cwd=workdir,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=30, check=False)
    assert done.stdout == command.expected


def test_the_matching_table_is_what_the_example_lists_decide(workdir: Path) -> None:
    policy = load_policy(workdir / "blocklists", "UTC").policy
    assert policy is not None
    index = PolicyIndex(policy.rules)
    decisions = table_decisions()
    assert len(decisions) >= 8
    may = datetime(2023, 5, 1, tzinfo=UTC)
    wrong = [(name, blocked) for name, blocked in decisions
             if ((rule := index.decide(name, may)) is not None
                 and rule.action is Action.BLOCK) != blocked]
    assert wrong == []
