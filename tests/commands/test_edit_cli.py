"""The edit commands' arguments (block, allow, list) and their dispatch."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from resolver.commands.edit_cli import dispatch
from resolver.config.load import defaults
from tests.commands.edit_runner import in_process, shipped_site, tiktok


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return shipped_site(tmp_path)


@pytest.mark.parametrize("args", [
    ["block", "add", "x.example"],                               # no --list
    ["block", "add", "--list", "tiktok"],                        # no name
    ["block", "rename", "x.example", "--list", "tiktok"],
    ["list", "new", "video", "--reference", "r"],                # no --effective
])
def test_usage_errors_exit_2(site: Path, args: list[str]) -> None:
    before = tiktok(site)
    run = in_process(site, *args)
    assert run.status == 2
    assert "usage: dnsfence" in run.err
    assert tiktok(site) == before


def test_dispatch_leaves_other_commands_alone() -> None:
    assert dispatch(argparse.Namespace(command="lint"), defaults(), io.StringIO(),
                    io.StringIO()) is None
