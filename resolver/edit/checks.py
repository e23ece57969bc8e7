"""Before an edit is written: the list to edit as the directory holds it, the values
given, and the directory as it would be afterwards, loaded exactly as lint loads it.

Nothing is written unless the edited directory loads and the list gained and lost
exactly the entries meant; every refusal is an EditError saying why.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from resolver.edit.document import EditError, Entry, ListDocument, Listed, check_name, read_document
from resolver.lists.load import LoadResult, load_policy
from resolver.lists.problems import Problem
from resolver.policy.instants import InstantError, parse_instant, zone
from resolver.policy.model import Action, BlockList


@dataclass(frozen=True, slots=True)
class EditDirectory:
    """Where the lists are and how to load them (from the config)."""

    blocklists: Path
    timezone: str
    cache_dir: Path
    groups: tuple[str, ...] | None = None  # the config's client groups
    allow_missing: bool = False  # `lists.on_missing: start`: lists load without a source
                                 # that has never been downloaded, as the server does


@dataclass(frozen=True, slots=True)
class Target:
    """The list being edited, as the directory holds it now."""

    loaded: LoadResult
    blocklist: BlockList
    path: Path
    text: str
    document: ListDocument

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.blocklist.timezone)


def loaded_directory(where: EditDirectory) -> LoadResult:
    """The directory as it is; an edit starts only from one that loads."""
    loaded = load_policy(where.blocklists, where.timezone, where.cache_dir, where.groups,
                         allow_missing=where.allow_missing)
    if loaded.policy is None:
        raise EditError(f"{len(loaded.errors)} error(s) in {where.blocklists}; fix them first "
                        "(see `dnsfence lint`); nothing was changed", loaded.errors)
    return loaded


def find_target(where: EditDirectory, list_name: str) -> Target:
    """The list named `list_name`, as the directory holds it now."""
    loaded = loaded_directory(where)
    assert loaded.policy is not None
    blocklist = loaded.policy.list_named(list_name)
    if blocklist is None:
        known = sorted(b.name for b in loaded.policy.lists)
        close = difflib.get_close_matches(list_name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise EditError(f"no list named {list_name!r} in {where.blocklists}{hint} "
                        f"(lists: {', '.join(known) or 'none'}; a new one: "
                        f"dnsfence list new {list_name} --effective WHEN --reference TEXT)")
    path = Path(blocklist.location.file)
    text = read_exactly(path)
    return Target(loaded, blocklist, path, text, read_document(str(path), text))


def read_exactly(path: Path) -> str:
    """The exact text (line endings kept), so untouched lines are written back as they were."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EditError(f"cannot read {path}: {exc}") from None


def checked_names(raw: Sequence[str]) -> list[str]:
    """Each name normalised, duplicates dropped; EditError naming every bad one."""
    names: list[str] = []
    problems = []
    for text in raw:
        try:
            name = check_name(text)
        except EditError as exc:
            problems.append(f"cannot use {text!r}: {exc}")
            continue
        if name not in names:
            names.append(name)
    if problems:
        raise EditError("\n".join([*problems, "nothing was changed"]))
    return names


def stripped(text: str | None) -> str | None:
    return text.strip() if text is not None else None


def _when(option: str, text: str, tz: ZoneInfo) -> datetime:
    try:
        return parse_instant(text, tz)
    except InstantError as exc:
        raise EditError(f"{option}: {exc}; nothing was changed") from None


def check_window(effective: str | None, expires: str | None, tz: ZoneInfo) -> None:
    start = _when("--effective", effective, tz) if effective is not None else None
    end = _when("--expires", expires, tz) if expires is not None else None
    if start is not None and end is not None and end <= start:
        raise EditError("--expires must be after --effective (it is the first instant the "
                        "entry no longer applies); nothing was changed")


def same_dates(listed: Listed, entry: Entry, tz: ZoneInfo) -> bool:
    def instant(text: str | None) -> datetime | None:
        try:
            return parse_instant(text, tz) if text is not None else None
        except InstantError:
            return None
    return (instant(listed.effective) == instant(entry.effective)
            and instant(listed.expires) == instant(entry.expires))


def checked_edit(where: EditDirectory, target: Target, text: str,
                 added: Counter[tuple[str, Action]], removed: Counter[tuple[str, Action]]
                 ) -> tuple[LoadResult, BlockList]:
    """The directory with the edited file, loaded as lint loads it; EditError unless it
    loads and the list gained and lost exactly the entries meant."""
    loaded = load_policy_with(where.blocklists, target.path, text, where.timezone,
                              where.cache_dir, where.groups, allow_missing=where.allow_missing)
    after = _loads(loaded, target.blocklist.name, target.path)
    if rule_changes(target.blocklist, after) != (added, removed):
        raise EditError(f"internal error: the edit of {target.path} would change other entries "
                        "than those asked for; nothing was changed (please report this, with "
                        "the file)")
    return loaded, after


def checked_new(where: EditDirectory, path: Path, text: str, list_name: str
                ) -> tuple[LoadResult, BlockList]:
    """The directory with the new list file `path` holding `text`; EditError unless it loads."""
    loaded = load_policy_with(where.blocklists, path, text, where.timezone, where.cache_dir,
                              where.groups, allow_missing=where.allow_missing)
    return loaded, _loads(loaded, list_name, path)


def _loads(loaded: LoadResult, list_name: str, path: Path) -> BlockList:
    if loaded.policy is None:
        raise EditError(f"with this change {path} would have {len(loaded.errors)} error(s) "
                        "(above); nothing was changed", loaded.errors)
    after = loaded.policy.list_named(list_name)
    if after is None:
        raise EditError(f"internal error: list {list_name} is missing after the edit of "
                        f"{path}; nothing was changed (please report this)")
    return after


def new_warnings(before: LoadResult, after: LoadResult, path: Path) -> list[Problem]:
    """The warnings lint would now give about the edited file that it did not before."""
    def mine(result: LoadResult) -> list[Problem]:
        return [p for p in result.warnings if p.location.file == str(path)]
    known = {p.message for p in mine(before)}
    return [p for p in mine(after) if p.message not in known]


def rule_changes(before: BlockList | None, after: BlockList) -> tuple[Counter[tuple[str, Action]],
                                                                     Counter[tuple[str, Action]]]:
    """(added, removed) (pattern, action) pairs between two versions of a list: an edit
    must change exactly the entries it meant to, whatever the splice did."""
    old = Counter((r.pattern, r.action) for r in before.rules) if before else Counter()
    new = Counter((r.pattern, r.action) for r in after.rules)
    return new - old, old - new


def load_policy_with(directory: Path, path: Path, text: str, default_timezone: str = "UTC",
                     remote_cache: Path | None = None,
                     groups: tuple[str, ...] | None = None, *,
                     allow_missing: bool = False) -> LoadResult:
    """`load_policy(directory)` as it would be with `path` holding `text`.

    The directory is loaded exactly as `lint` loads it, from a temporary directory of
    symbolic links to its entries in which `path` alone is the new text; so everything
    lint checks across files (a list name used twice) is checked too. The temporary
    directory sits beside `directory` where it may, so that paths relative to the list
    files (`../shared/...`) lead where they lead from `directory`. Problems name the
    real directory; the policy's own locations name the copy, which is gone by then.
    """
    with _scratch(directory) as scratch:
        copy = Path(scratch)
        if directory.is_dir():
            for entry in directory.iterdir():
                if entry.name != path.name:
                    os.symlink(entry.absolute(), copy / entry.name)
        (copy / path.name).write_text(text, encoding="utf-8", newline="")
        result = load_policy(copy, default_timezone, remote_cache, groups,
                             allow_missing=allow_missing)
    return replace(result, problems=tuple(_relocated(p, str(copy), str(directory))
                                          for p in result.problems))


def _scratch(directory: Path) -> tempfile.TemporaryDirectory[str]:
    try:
        return tempfile.TemporaryDirectory(prefix=".dnsfence-edit-",
                                           dir=directory.absolute().parent)
    except OSError:  # the parent is not writable: relative paths outside may then not resolve
        return tempfile.TemporaryDirectory(prefix="dnsfence-edit-")


def _relocated(problem: Problem, old: str, new: str) -> Problem:
    where = problem.location
    if where.file == old or where.file.startswith(old + os.sep):
        where = replace(where, file=new + where.file[len(old):])
    return Problem(where, problem.message.replace(old, new), problem.severity)
