"""An instant given on the command line (`--at`, `--start`, `--until`), in the config's zone."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from resolver.commands.exit_codes import EXIT_USAGE, CommandFailed
from resolver.config.settings import Config
from resolver.policy.instants import InstantError, parse_instant, zone


def instant_or_fail(text: str | None, config: Config, err: TextIO = sys.stderr) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text, zone(config.timezone))
    except InstantError as exc:
        print(f"dnsfence: {exc}", file=err)
        raise CommandFailed(EXIT_USAGE) from None
