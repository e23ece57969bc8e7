"""YAML blocklist files -> a validated Policy, with every problem collected.

A directory with any error yields no policy at all: a half-loaded ban is worse
than the last good one, which the caller keeps. The one exception is a `url:` source
that has never been downloaded (its mirror was down at the first start): with
`allow_missing` its list loads without it, with a warning, because a server that does
not start leaves the office without any list at all.
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
from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import MissingSource, Policy
from resolver.policy.model import BlockList, Location, SourceRules
from resolver.policy.name_tables import NameHashes


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A policy (None when any error was found) and every problem found."""

    policy: Policy | None
    problems: tuple[Problem, ...]
    sources: tuple[SourceReport, ...] = ()
    missing: tuple[tuple[MissingSource, Problem], ...] = ()
    """`url:` sources with no copy yet, each with the problem that reports it."""

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
                groups: Collection[str] | None = None, *,
                allow_missing: bool = False) -> LoadResult:
    """Load every list file in `directory` and its sources, and index it; all-or-nothing.

    URL sources are read from `remote_cache` (the last good download); nothing is
    fetched here, so loading never waits on the network. `groups` are the config's
    client group names, which lists' `clients:` may name (None: names not checked).
    `allow_missing` (`lists.on_missing: start`): a URL source with no copy yet is a
    warning and is left out, instead of an error.
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
    missing: list[tuple[MissingSource, Problem]] = []
    for i, (blocklist, sources) in enumerate(zip(lists, specs, strict=True)):
        if not sources:
            continue
        got = ingest(sources, blocklist.window, remote, blocklist.schedule, blocklist.audience,
                     allow_missing)
        problems.extend(got.problems)
        missing.extend(got.missing)
        reports.extend(got.reports)
        paths.extend(got.paths)
        named.extend(got.groups)
        lists[i] = replace(blocklist, rules=blocklist.rules + tuple(got.rules),
                           sources=tuple(g for g, _ in got.groups),
                           regexes=blocklist.regexes + tuple(got.regexes))
    if any(p.severity == "error" for p in problems):
        return LoadResult(None, tuple(problems), tuple(reports), tuple(missing))
    index = PolicyIndex((r for b in lists for r in b.rules), named,
                        (r for b in lists for r in b.regexes))
    policy = Policy(tuple(lists), default_timezone, index=index, source_paths=tuple(paths),
                    missing_sources=tuple(source for source, _ in missing))
    return LoadResult(policy, tuple(problems), tuple(reports), tuple(missing))


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
