"""The exit statuses: 0 done, 1 problems found, 2 the command line was wrong."""

from __future__ import annotations

import pytest

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, CommandFailed


def test_the_statuses() -> None:
    assert (EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE) == (0, 1, 2)


def test_command_failed_carries_its_status() -> None:
    with pytest.raises(CommandFailed) as failed:
        raise CommandFailed(EXIT_USAGE)
    assert failed.value.status == 2
    assert failed.value.args == (2,)
