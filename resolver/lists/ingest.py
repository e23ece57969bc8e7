"""A list's `sources:` -> entries: read each source, parse its format, group its names.

Names are not turned into one object each: all plain names of one source with one
action and scope share a SourceRules value in the index, which is what keeps a
million-name source small. Globs and regexes (few) become ordinary rules.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from resolver.lists.formats import parse_source
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.problems import Problem
from resolver.lists.remote_cache import RemoteCache
from resolver.lists.sources import SourceSpec
from resolver.policy.audience import Audience
from resolver.policy.loaded import MissingSource
from resolver.policy.model import Action, Location, RegexRule, Rule, Scope, SourceRules, Window
from resolver.policy.name_tables import NameHashes, hashes_of
from resolver.policy.weekly import WeeklySchedule

_LINE_WARNINGS = 20  # bad lines reported one by one per source; the rest are counted


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What one source gave, for `dnsfence lint`."""

    spec: SourceSpec
    format: str
    taken: int
    skipped: tuple[tuple[str, int], ...]
    invalid: int
    considered: int
    seconds: float

    def describe(self) -> str:
        skipped = ", ".join(f"{n:,} {reason}" for reason, n in self.skipped) or "none"
        return (f"source {self.spec.label} ({self.format}): {self.taken:,} entries taken; "
                f"skipped: {skipped}; {self.invalid:,} invalid line(s) of {self.considered:,}")


@dataclass(slots=True)
class Ingested:
    """Everything the sources of one list contribute."""

    groups: list[tuple[SourceRules, list[str] | NameHashes]]
    rules: list[Rule]
    regexes: list[RegexRule]
    reports: list[SourceReport]
    problems: list[Problem]
    paths: list[str]
    missing: list[tuple[MissingSource, Problem]] = field(default_factory=list)


NOT_DOWNLOADED = "not downloaded yet"
"""read_text's reason for a `url:` source with no copy (not an error under on_missing: start)."""


def read_text(spec: SourceSpec, remote: RemoteCache | None) -> tuple[str | None, str]:
    """The source's text, or None with the reason (NOT_DOWNLOADED: no copy yet)."""
    if spec.path is not None:
        try:
            return spec.path.read_text(encoding="utf-8", errors="replace"), ""
        except OSError as exc:
            return None, f"cannot read source {spec.path}: {exc.strerror or exc}"
    assert spec.url is not None
    copy = remote.cached(spec.url) if remote is not None else None
    if copy is None:
        return None, NOT_DOWNLOADED
    try:
        return copy.read_text(), ""
    except OSError as exc:
        return None, f"cannot read the downloaded copy of {spec.url}: {exc}"


def not_downloaded(spec: SourceSpec, allow_missing: bool) -> Problem:
    """A `url:` source with no copy: a warning when the lists load without it."""
    if allow_missing:
        return Problem(spec.location, (
            f"source {spec.url} has not been downloaded yet; list {spec.list_name} is served "
            "without it until it arrives (a running server keeps trying; `dnsfence lists "
            "update` downloads it now)"), "warning")
    return Problem(spec.location, (
        f"source {spec.url} has not been downloaded yet, and with `lists.on_missing: fail` "
        "nothing is served without it; run `dnsfence lists update` (the server also tries "
        "once as it starts), or set `lists.on_missing: start` to serve the other lists "
        "meanwhile"))


def ingest(specs: tuple[SourceSpec, ...], window: Window,
           remote: RemoteCache | None, weekly: WeeklySchedule | None = None,
           audience: Audience | None = None, allow_missing: bool = False) -> Ingested:
    out = Ingested([], [], [], [], [], [])
    for spec in specs:
        started = time.perf_counter()
        text, why = read_text(spec, remote)
        if why == NOT_DOWNLOADED:
            assert spec.url is not None
            problem = not_downloaded(spec, allow_missing)
            out.problems.append(problem)
            sidecar = str(remote.sidecar(spec.url)) if remote is not None else ""
            if sidecar:
                out.paths.append(sidecar)  # watched: its appearance reloads the policy
            out.missing.append((MissingSource(spec.list_name, spec.url, spec.location,
                                              sidecar), problem))
            continue
        if text is None:
            out.problems.append(Problem(spec.location, why))
            continue
        if spec.path is not None:
            out.paths.append(str(spec.path))
        elif remote is not None and spec.url is not None:
            # the downloaded copy's sidecar changes with every download: watching it makes
            # `dnsfence lists update`, or another worker's download, reload this policy
            out.paths.append(str(remote.sidecar(spec.url)))
        parsed = parse_source(text, spec.format, match=spec.match)
        del text
        _check_lines(spec, parsed, out.problems)
        _entries(spec, parsed, window, out, weekly, audience)
        out.reports.append(SourceReport(
            spec, parsed.format.value, parsed.taken,
            tuple(collections.Counter(parsed.skipped).most_common()), len(parsed.invalid),
            parsed.considered, time.perf_counter() - started))
        del parsed
    return out


def _check_lines(spec: SourceSpec, parsed: ParsedSource, problems: list[Problem]) -> None:
    where = str(spec.path) if spec.path is not None else spec.label
    share = parsed.invalid_share
    if parsed.invalid and share > spec.max_invalid_share:
        first = ", ".join(str(line) for line, _ in parsed.invalid[:5])
        problems.append(Problem(spec.location, (
            f"source {spec.label}: {len(parsed.invalid):,} of {parsed.considered:,} lines "
            f"({share:.0%}) are not {parsed.format.value} entries (first at lines {first}); "
            f"more than {spec.max_invalid_share:.0%} means this is probably not a list "
            "(an HTML page?) — check the path or URL, or set `format:`")))
        return
    for line, message in parsed.invalid[:_LINE_WARNINGS]:
        problems.append(Problem(Location(where, line), message, "warning"))
    if len(parsed.invalid) > _LINE_WARNINGS:
        problems.append(Problem(spec.location, f"source {spec.label}: "
                                f"{len(parsed.invalid) - _LINE_WARNINGS:,} more invalid lines "
                                "not shown", "warning"))


def _entries(spec: SourceSpec, parsed: ParsedSource, window: Window, out: Ingested,
             weekly: WeeklySchedule | None, audience: Audience | None) -> None:
    where = str(spec.path) if spec.path is not None else spec.label
    for (action, scope), names in parsed.names.items():
        if spec.action is Action.ALLOW:
            action = Action.ALLOW  # `as: allow`: every entry is an exception
        plain = [n for n in names if "*" not in n]
        if plain:
            group = SourceRules(spec.label, action, scope, spec.list_name, window,
                                spec.location, len(plain), weekly, audience)
            # sources keep only hashes; their strings die with this source's text
            out.groups.append((group, hashes_of(plain)))
        for glob in (n for n in names if "*" in n):
            out.rules.append(Rule(glob, action, spec.list_name, window, Location(where),
                                  scope=Scope.SUBTREE, weekly=weekly, audience=audience))
    for action, pattern, line in parsed.regexes:  # the parsers took only patterns that compile
        if spec.action is Action.ALLOW:
            action = Action.ALLOW
        out.regexes.append(RegexRule(pattern, action, spec.list_name, window,
                                     Location(where, line), weekly, audience))
