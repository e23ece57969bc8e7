"""The `site` fixture the command tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.cli_runner import stage_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A working directory with ./blocklists holding one clean list."""
    return stage_site(tmp_path)
