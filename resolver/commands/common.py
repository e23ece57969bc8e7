"""What every command needs: the effective config and a loaded policy, or a clear failure."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from resolver.config import Config, ConfigError, defaults, load_config
from resolver.policy.instants import InstantError, parse_instant, zone
from resolver.policy.load import LoadResult, load_policy
from resolver.policy.model import Policy
from resolver.policy.yamlnodes import Problem

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CommandFailed(Exception):
    """Stops a command with an exit status after its message was printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def settings(config_file: str | None, blocklists: str | None,
             err: TextIO = sys.stderr) -> Config:
    """Config file (if any) with command-line overrides applied."""
    config = defaults()
    if config_file is not None:
        try:
            config = load_config(Path(config_file))
        except ConfigError as exc:
            report(exc.problems, err)
            print(f"dnsfence: the config file {config_file} has errors; nothing was done",
                  file=err)
            raise CommandFailed(EXIT_PROBLEMS) from None
    return config.with_overrides(blocklists=Path(blocklists) if blocklists else None)


def report(problems: Sequence[Problem], out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)


def policy_or_fail(config: Config, err: TextIO = sys.stderr) -> tuple[Policy, LoadResult]:
    """Load the blocklists; on any error print them all and fail."""
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir)
    if result.policy is None:
        report(result.errors, err)
        print(f"dnsfence: {len(result.errors)} error(s) in {config.blocklists}; "
              "fix them (see `dnsfence lint`)", file=err)
        raise CommandFailed(EXIT_PROBLEMS)
    return result.policy, result


def instant_or_fail(text: str | None, config: Config, err: TextIO = sys.stderr) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text, zone(config.timezone))
    except InstantError as exc:
        print(f"dnsfence: {exc}", file=err)
        raise CommandFailed(EXIT_USAGE) from None
