"""`dnsfence lint`: every problem in the blocklists, with file:line."""

from __future__ import annotations

from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.problems_report import report
from resolver.config.settings import Config
from resolver.lists.load import load_policy


def run(config: Config, *, strict: bool, out: TextIO, err: TextIO) -> int:
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         groups=config.group_names, allow_missing=config.lists.allow_missing)
    report(result.problems, err)
    for source in result.sources:
        print(f"{source.spec.location}: {source.describe()}", file=out)
    errors, warnings = len(result.errors), len(result.warnings)
    if result.policy is not None:
        names = result.policy.size
        summary = f"{len(result.policy.lists)} list(s), {names} entries"
    else:
        summary = "nothing loaded"
    print(f"{config.blocklists}: {errors} error(s), {warnings} warning(s); {summary}", file=out)
    if errors or (strict and warnings):
        return EXIT_PROBLEMS
    return EXIT_OK
