"""The config a command runs with: the config file (if any) with command-line overrides."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from resolver.commands.exit_codes import EXIT_PROBLEMS, CommandFailed
from resolver.commands.problems_report import report
from resolver.config.load import ConfigError, defaults, load_config
from resolver.config.settings import Config


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
