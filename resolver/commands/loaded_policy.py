"""The blocklists a read-only command works on (`check`, `schedule`), or a clear failure."""

from __future__ import annotations

import sys
from typing import TextIO

from resolver.commands.exit_codes import EXIT_PROBLEMS, CommandFailed
from resolver.commands.problems_report import report
from resolver.config.settings import Config
from resolver.lists.load import LoadResult, load_policy
from resolver.policy.loaded import Policy


def policy_or_fail(config: Config, err: TextIO = sys.stderr) -> tuple[Policy, LoadResult]:
    """Load the blocklists; on any error print them all and fail."""
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         groups=config.group_names, allow_missing=config.lists.allow_missing)
    if result.policy is None:
        report(result.errors, err)
        print(f"dnsfence: {len(result.errors)} error(s) in {config.blocklists}; "
              "fix them (see `dnsfence lint`)", file=err)
        raise CommandFailed(EXIT_PROBLEMS)
    # a source not downloaded yet changes what is blocked: say so beside the answer
    report([problem for _, problem in result.missing], err)
    return result.policy, result
