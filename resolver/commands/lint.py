"""`dnsfence lint`: every problem in the blocklists, with file:line, and every local record
a list blocks (the config line and the list's)."""

from __future__ import annotations

from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.problems_report import report
from resolver.config.local import LocalRecord
from resolver.config.settings import Config
from resolver.lists.load import load_policy
from resolver.lists.problems import Problem
from resolver.policy.index import PolicyIndex
from resolver.policy.model import Action, SourceRules


def run(config: Config, *, strict: bool, out: TextIO, err: TextIO) -> int:
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         groups=config.group_names)
    problems = list(result.problems)
    if result.policy is not None and result.policy.index is not None:
        problems.extend(blocked_local_records(config.local.records, result.policy.index))
    report(problems, err)
    for source in result.sources:
        print(f"{source.spec.location}: {source.describe()}", file=out)
    errors = len(result.errors)
    warnings = sum(1 for p in problems if p.severity == "warning")
    if result.policy is not None:
        names = result.policy.size
        summary = f"{len(result.policy.lists)} list(s), {names} entries"
    else:
        summary = "nothing loaded"
    print(f"{config.blocklists}: {errors} error(s), {warnings} warning(s); {summary}", file=out)
    if errors or (strict and warnings):
        return EXIT_PROBLEMS
    return EXIT_OK


def blocked_local_records(records: tuple[LocalRecord, ...], index: PolicyIndex
                          ) -> list[Problem]:
    """A warning at each list entry that blocks (at some time, for some clients) a name
    with local records: the block wins, so the record is not served while it holds."""
    found: list[Problem] = []
    first: dict[str, LocalRecord] = {}
    for record in records:
        first.setdefault(record.name, record)
    for name, record in first.items():
        seen: set[int] = set()
        for rule in index.covering(name):
            if rule.action is not Action.BLOCK or id(rule) in seen:
                continue
            seen.add(id(rule))
            source = f" (from {rule.source})" if isinstance(rule, SourceRules) else ""
            found.append(Problem(rule.location, (
                f"list {rule.list_name}{source} blocks {name}, which has local records "
                f"({record.location}); the block wins: clients get NXDOMAIN while it "
                "is in force"), "warning"))
    return found
