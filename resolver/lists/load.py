"""YAML blocklist files -> a validated Policy, with every problem collected.

A directory with any error yields no policy at all: a half-loaded ban is worse
than the last good one, which the caller keeps.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from resolver.lists.ingest import SourceReport, ingest
from resolver.lists.list_file import parse_list_file
from resolver.lists.problems import Problem
from resolver.lists.remote_cache import RemoteCache
from resolver.lists.sources import SourceSpec
from resolver.policy.index import NameHashes, PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.model import BlockList, Location, SourceRules


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A policy (None when any error was found) and every problem found."""

    policy: Policy | None
    problems: tuple[Problem, ...]
    sources: tuple[SourceReport, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def list_files(directory: Path) -> list[Path]:
    """The list files of a directory, in name order so results are reproducible."""
    return sorted(
        p for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()
    )


def load_policy(directory: Path, default_timezone: str = "UTC",
                remote_cache: Path | None = None,
                groups: Collection[str] | None = None) -> LoadResult:
    """Load every list file in `directory` and its sources, and index it; all-or-nothing.

    URL sources are read from `remote_cache` (the last good download); nothing is
    fetched here, so loading never waits on the network. `groups` are the config's
    client group names, which lists' `clients:` may name (None: names not checked).
    """
    problems: list[Problem] = []
    if not directory.is_dir():
        problems.append(Problem(Location(str(directory)),
                                "blocklist directory not found; create it or pass --blocklists"))
        return LoadResult(None, tuple(problems))
    lists: list[BlockList] = []
    specs: list[tuple[SourceSpec, ...]] = []
    for path in list_files(directory):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(Location(str(path)), f"cannot read file: {exc}"))
            continue
        blocklist, sources, found = parse_list_file(str(path), text, default_timezone, groups)
        problems.extend(found)
        if blocklist is not None:
            lists.append(blocklist)
            specs.append(sources)
    problems.extend(_check_unique_names(lists))
    if any(p.severity == "error" for p in problems):
        return LoadResult(None, tuple(problems))
    remote = RemoteCache(remote_cache) if remote_cache is not None else None
    named: list[tuple[SourceRules, list[str] | NameHashes]] = []
    reports: list[SourceReport] = []
    paths: list[str] = []
    for i, (blocklist, sources) in enumerate(zip(lists, specs, strict=True)):
        if not sources:
            continue
        got = ingest(sources, blocklist.window, remote, blocklist.schedule, blocklist.audience)
        problems.extend(got.problems)
        reports.extend(got.reports)
        paths.extend(got.paths)
        named.extend(got.groups)
        lists[i] = replace(blocklist, rules=blocklist.rules + tuple(got.rules),
                           sources=tuple(g for g, _ in got.groups),
                           regexes=blocklist.regexes + tuple(got.regexes))
    if any(p.severity == "error" for p in problems):
        return LoadResult(None, tuple(problems), tuple(reports))
    index = PolicyIndex((r for b in lists for r in b.rules), named,
                        (r for b in lists for r in b.regexes))
    policy = Policy(tuple(lists), default_timezone, index=index, source_paths=tuple(paths))
    return LoadResult(policy, tuple(problems), tuple(reports))


def _check_unique_names(lists: list[BlockList]) -> list[Problem]:
    first: dict[str, BlockList] = {}
    problems = []
    for blocklist in lists:
        other = first.setdefault(blocklist.name, blocklist)
        if other is not blocklist:
            problems.append(Problem(
                blocklist.location,
                f"list name {blocklist.name!r} is already used by {other.location}; "
                "list names must be unique (set a different `name:`)",
            ))
    return problems
