"""`dnsfence lint`: every problem in the blocklists, with file:line, and every local record
a list blocks (the config line and the list's)."""

from __future__ import annotations

import time
from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.problems_report import report
from resolver.config.local import LocalRecord
from resolver.config.settings import Config
from resolver.lists.load import load_policy
from resolver.lists.problems import Problem
from resolver.policy.audience import NO_GROUPS, Groups
from resolver.policy.index import PolicyIndex
from resolver.policy.model import Action, AnyRule, SourceRules


def run(config: Config, *, strict: bool, out: TextIO, err: TextIO) -> int:
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         groups=config.group_names, allow_missing=config.lists.allow_missing)
    problems = list(result.problems)
    if result.policy is not None and result.policy.index is not None:
        problems.extend(blocked_local_records(config.local.records, result.policy.index,
                                              config.group_names))
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


def blocked_local_records(records: tuple[LocalRecord, ...], index: PolicyIndex,
                          groups: tuple[str, ...] = (), now: float | None = None
                          ) -> list[Problem]:
    """A warning at each list entry that blocks a name with local records, now or later,
    for every client or one group: the block wins, so the record is not served while it
    holds. An entry that an allow entry always overrides is no conflict."""
    at = time.time() if now is None else now
    clients = [NO_GROUPS, *(frozenset((group,)) for group in groups)]
    found: list[Problem] = []
    first: dict[str, LocalRecord] = {}
    for record in records:
        first.setdefault(record.name, record)
    for name, record in first.items():
        seen: set[int] = set()
        for rule in index.covering(name):
            if rule.action is not Action.BLOCK or id(rule) in seen \
                    or not _decides(index, rule, name, at, clients):
                continue
            seen.add(id(rule))
            source = f" (from {rule.source})" if isinstance(rule, SourceRules) else ""
            found.append(Problem(rule.location, (
                f"list {rule.list_name}{source} blocks {name}, which has local records "
                f"({record.location}); the block wins: clients get NXDOMAIN while it "
                "is in force"), "warning"))
    return found


def _decides(index: PolicyIndex, rule: AnyRule, name: str, now: float,
             clients: list[Groups]) -> bool:
    """Whether `rule` is what decides `name` at its first instant in force from `now` on
    (or the first opening of its weekly windows), for some client."""
    start = max(now, rule.start)
    if start >= rule.end:
        return False
    instants = [start]
    if rule.weekly is not None:
        opening = rule.weekly.next_edge(start)
        if opening is not None and opening < rule.end:
            instants.append(opening)
    for instant in instants:
        for groups in clients:
            found = index.lookup(name, instant, groups)
            if found is not None and found[0] is rule:
                return True
    return False
