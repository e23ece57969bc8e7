"""A config file written to a temporary directory, and its problems as 'file:line:col: text'."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from resolver.config.load import ConfigError, load_config


def write_config(tmp_path: Path, text: str, name: str = "dnsfence.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def config_errors(path: Path) -> list[str]:
    """Each problem as 'file:line:col: message' with the file's base name."""
    with pytest.raises(ConfigError) as failed:
        load_config(path)
    return [f"{Path(p.location.file).name}:{p.location.line}:{p.location.column}: {p.message}"
            if p.location.column else f"{Path(p.location.file).name}:{p.location.line}: "
            f"{p.message}" for p in failed.value.problems]


def assert_config_error(path: Path, at: str, *words: str) -> None:
    """Exactly one problem, at `at` ('file:line:col'), holding every word."""
    errors = config_errors(path)
    assert len(errors) == 1, errors
    location, _, message = errors[0].partition(": ")
    assert location == at, errors[0]
    assert all(w in message for w in words), errors[0]
