"""`dnsfence block|allow add|remove` and `dnsfence list new`: change list files safely.

A change is made on the file's text (resolver.policy.edit), the directory as it would
then be is checked exactly as `dnsfence lint` checks it, and only then is the file
replaced, atomically: a crash or a server reloading at that moment sees the old file
or the new one, never half of one. Nothing is written when anything is wrong.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from resolver.commands.common import EXIT_OK, EXIT_PROBLEMS, report
from resolver.config import Config
from resolver.policy.edit import (
    SECTION,
    EditError,
    Entry,
    ListDocument,
    Listed,
    add_entries,
    check_name,
    entries,
    load_policy_with,
    new_list_text,
    read_document,
    remove_entries,
    rule_changes,
)
from resolver.policy.index import PolicyIndex
from resolver.policy.instants import InstantError, parse_instant, show, zone
from resolver.policy.load import LoadResult, load_policy
from resolver.policy.model import Action, BlockList, Rule
from resolver.policy.period import index_of
from resolver.policy.yamlnodes import Problem

_LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True, slots=True)
class _Target:
    """The list being edited, as the directory holds it now."""

    loaded: LoadResult
    blocklist: BlockList
    path: Path
    text: str
    document: ListDocument

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.blocklist.timezone)


# --- the commands ----------------------------------------------------------------------------

def run_add(config: Config, list_name: str, names: Sequence[str], action: Action, *,
            effective: str | None = None, expires: str | None = None,
            reference: str | None = None, out: TextIO, err: TextIO,
            now: datetime | None = None) -> int:
    """`dnsfence block add` (BLOCK) and `dnsfence allow add` (ALLOW)."""
    try:
        target = _target(config, list_name, err)
        effective, expires = _strip(effective), _strip(expires)
        _check_window(effective, expires, target.tz)
        wanted = [Entry(name, effective, expires, reference) for name in _names(names)]
        present = {e.name: e for e in entries(target.document, action) if e.name}
        new = []
        for entry in wanted:
            listed = present.get(entry.name)
            if listed is None:
                new.append(entry)
            elif _same_dates(listed, entry, target.tz):
                print(f"{target.blocklist.name}: {entry.name} is already "
                      f"{_already(action)} ({target.path}:{listed.line}); nothing to do",
                      file=out)
            else:
                raise EditError(
                    f"{entry.name} is already in `{SECTION[action]}:` of list "
                    f"{target.blocklist.name} ({target.path}:{listed.line}) with other dates; "
                    f"remove it first (dnsfence {_verb(action)} remove {entry.name} --list "
                    f"{target.blocklist.name}), then add it again; nothing was changed")
        if not new:
            return EXIT_OK
        text = add_entries(target.document, action, new)
        added = Counter((e.name, action) for e in new)
        loaded, after = _checked(config, target, text, added, Counter(), err)
        replace_file(target.path, text, previous=target.text)
        _report_new_warnings(target.loaded, loaded, target.path, err)
        moment = now or datetime.now(UTC)
        for entry in new:
            rule = _rule(after, entry.name, action)
            print(f"{after.name}: +{entry.name}, {_in_force(rule, after, action, moment)}",
                  file=out)
        return EXIT_OK
    except EditError as exc:
        return _refused(exc, err)


def run_remove(config: Config, list_name: str, names: Sequence[str], action: Action, *,
               out: TextIO, err: TextIO, now: datetime | None = None) -> int:
    """`dnsfence block remove` (BLOCK) and `dnsfence allow remove` (ALLOW)."""
    try:
        target = _target(config, list_name, err)
        wanted = _names(names)
        listed = entries(target.document, action)
        present = {e.name for e in listed}
        missing = [name for name in wanted if name not in present]
        if missing:
            raise EditError("\n".join(_not_listed(target, name, action) for name in missing)
                            + "\nnothing was changed")
        text = remove_entries(target.document, action, wanted)
        removed = Counter((e.name, action) for e in listed if e.name in wanted)
        loaded, after = _checked(config, target, text, Counter(), removed, err)
        replace_file(target.path, text, previous=target.text)
        _report_new_warnings(target.loaded, loaded, target.path, err)
        assert loaded.policy is not None
        index = index_of(loaded.policy)
        moment = now or datetime.now(UTC)
        for name in wanted:
            print(f"{after.name}: -{name} ({_after_removal(index, name, action, moment)})",
                  file=out)
        return EXIT_OK
    except EditError as exc:
        return _refused(exc, err)


def run_new(config: Config, list_name: str, *, effective: str, reference: str,
            timezone: str | None = None, expires: str | None = None,
            description: str | None = None, out: TextIO, err: TextIO,
            now: datetime | None = None) -> int:
    """`dnsfence list new`: a new list file with no entries yet."""
    try:
        directory = config.blocklists
        if list_name.endswith((".yaml", ".yml")):
            raise EditError(f"give the list's name without the file suffix: "
                            f"dnsfence list new {Path(list_name).stem} ...")
        if not _LIST_NAME.match(list_name):
            raise EditError(f"{list_name!r} cannot be a list name: it is also the file name, so "
                            "use letters, digits, '-', '_' and '.', starting with a letter or "
                            "digit")
        if not directory.is_dir():
            raise EditError(f"blocklist directory {directory} not found; create it or pass "
                            "--blocklists")
        loaded = _loaded(config, err)
        assert loaded.policy is not None
        same = loaded.policy.list_named(list_name)
        if same is not None:
            raise EditError(f"a list named {list_name!r} already exists ({same.location}); "
                            "choose another name")
        for suffix in (".yaml", ".yml"):
            if (directory / f"{list_name}{suffix}").exists():
                raise EditError(f"{directory / f'{list_name}{suffix}'} already exists; choose "
                                "another name")
        tz_name = timezone or config.timezone
        try:
            tz = zone(tz_name)
        except InstantError as exc:
            raise EditError(f"--timezone: {exc}") from None
        effective, expires = effective.strip(), _strip(expires)
        _check_window(effective, expires, tz)
        if not reference.strip():
            raise EditError("--reference is empty; name the decision the list carries out")
        path = directory / f"{list_name}.yaml"
        text = new_list_text(list_name, effective=effective, reference=reference,
                             timezone=tz_name, expires=expires, description=description)
        after_load, after = _checked_new(config, path, text, list_name, err)
        replace_file(path, text, previous=None)
        _report_new_warnings(loaded, after_load, path, err)
        moment = now or datetime.now(UTC)
        when = _window(after.window.effective, after.window.expires, tz, moment)
        print(f"{list_name}: created {path}, {when}; add names with: "
              f"dnsfence block add NAME... --list {list_name}", file=out)
        return EXIT_OK
    except EditError as exc:
        return _refused(exc, err)


def _refused(exc: EditError, err: TextIO) -> int:
    for line in str(exc).splitlines():
        print(f"dnsfence: {line}", file=err)
    return EXIT_PROBLEMS


# --- finding and checking --------------------------------------------------------------------

def _loaded(config: Config, err: TextIO) -> LoadResult:
    """The directory as it is; an edit starts only from one that loads."""
    loaded = load_policy(config.blocklists, config.timezone, config.lists.cache_dir)
    if loaded.policy is None:
        report(loaded.errors, err)
        raise EditError(f"{len(loaded.errors)} error(s) in {config.blocklists}; fix them first "
                        "(see `dnsfence lint`); nothing was changed")
    return loaded


def _target(config: Config, list_name: str, err: TextIO) -> _Target:
    loaded = _loaded(config, err)
    assert loaded.policy is not None
    blocklist = loaded.policy.list_named(list_name)
    if blocklist is None:
        known = sorted(b.name for b in loaded.policy.lists)
        close = difflib.get_close_matches(list_name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise EditError(f"no list named {list_name!r} in {config.blocklists}{hint} "
                        f"(lists: {', '.join(known) or 'none'}; a new one: "
                        f"dnsfence list new {list_name} --effective WHEN --reference TEXT)")
    path = Path(blocklist.location.file)
    text = _read(path)
    return _Target(loaded, blocklist, path, text, read_document(str(path), text))


def _read(path: Path) -> str:
    """The exact text (line endings kept), so untouched lines are written back as they were."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EditError(f"cannot read {path}: {exc}") from None


def _names(raw: Sequence[str]) -> list[str]:
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


def _strip(text: str | None) -> str | None:
    return text.strip() if text is not None else None


def _when(option: str, text: str, tz: ZoneInfo) -> datetime:
    try:
        return parse_instant(text, tz)
    except InstantError as exc:
        raise EditError(f"{option}: {exc}; nothing was changed") from None


def _check_window(effective: str | None, expires: str | None, tz: ZoneInfo) -> None:
    start = _when("--effective", effective, tz) if effective is not None else None
    end = _when("--expires", expires, tz) if expires is not None else None
    if start is not None and end is not None and end <= start:
        raise EditError("--expires must be after --effective (it is the first instant the "
                        "entry no longer applies); nothing was changed")


def _same_dates(listed: Listed, entry: Entry, tz: ZoneInfo) -> bool:
    def instant(text: str | None) -> datetime | None:
        try:
            return parse_instant(text, tz) if text is not None else None
        except InstantError:
            return None
    return (instant(listed.effective) == instant(entry.effective)
            and instant(listed.expires) == instant(entry.expires))


def _checked(config: Config, target: _Target, text: str,
             added: Counter[tuple[str, Action]], removed: Counter[tuple[str, Action]],
             err: TextIO) -> tuple[LoadResult, BlockList]:
    """The directory with the edited file, loaded as lint loads it; EditError unless it
    loads and the list gained and lost exactly the entries meant."""
    loaded = load_policy_with(config.blocklists, target.path, text, config.timezone,
                              config.lists.cache_dir)
    after = _loads(loaded, target.blocklist.name, target.path, err)
    if rule_changes(target.blocklist, after) != (added, removed):
        raise EditError(f"internal error: the edit of {target.path} would change other entries "
                        "than those asked for; nothing was changed (please report this, with "
                        "the file)")
    return loaded, after


def _checked_new(config: Config, path: Path, text: str, list_name: str,
                 err: TextIO) -> tuple[LoadResult, BlockList]:
    loaded = load_policy_with(config.blocklists, path, text, config.timezone,
                              config.lists.cache_dir)
    return loaded, _loads(loaded, list_name, path, err)


def _loads(loaded: LoadResult, list_name: str, path: Path, err: TextIO) -> BlockList:
    if loaded.policy is None:
        report(loaded.errors, err)
        raise EditError(f"with this change {path} would have {len(loaded.errors)} error(s) "
                        "(above); nothing was changed")
    after = loaded.policy.list_named(list_name)
    if after is None:
        raise EditError(f"internal error: list {list_name} is missing after the edit of "
                        f"{path}; nothing was changed (please report this)")
    return after


def _report_new_warnings(before: LoadResult, after: LoadResult, path: Path,
                         err: TextIO) -> None:
    """The warnings lint would now give about the edited file that it did not before."""
    def mine(result: LoadResult) -> list[Problem]:
        return [p for p in result.warnings if p.location.file == str(path)]
    known = {p.message for p in mine(before)}
    report([p for p in mine(after) if p.message not in known], err)


# --- writing ---------------------------------------------------------------------------------

def replace_file(path: Path, text: str, *, previous: str | None) -> None:
    """Put `text` in `path` so that every reader sees the old file or the new one.

    The text goes to a hidden temporary file in the same directory (which `load_policy`
    skips), is flushed and fsynced, then renamed over `path`, and the directory is
    fsynced so the rename survives a crash. The file keeps its permission bits (and its
    owner, where allowed); a symbolic link stays one, and the file it points to is
    replaced. `previous` is the text the edit started from (None: the file must not
    exist); if the file changed meanwhile nothing is written.
    """
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    if previous is None and current is not None:
        raise EditError(f"{path} was created meanwhile; nothing was changed")
    if previous is not None and (current is None or _read(path) != previous):
        raise EditError(f"{path} changed while it was being edited; nothing was changed "
                        "(run the command again)")
    mode = stat.S_IMODE(current.st_mode) if current else 0o666 & ~_umask()
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EditError(f"cannot write in {path.parent}: {exc.strerror}; nothing was changed")\
            from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fchmod(file.fileno(), mode)
            if current is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(file.fileno(), current.st_uid, current.st_gid)
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise EditError(f"cannot write {path}: {exc.strerror or exc}; nothing was changed")\
                from None
        raise
    _fsync_directory(path.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- what changed, for people ----------------------------------------------------------------

def relative(moment: datetime, now: datetime) -> str:
    """'in 3 days', '3 years ago', 'now': how far `moment` is from `now`, roughly."""
    seconds = (moment - now).total_seconds()
    for unit, size in (("year", 365 * 86_400), ("month", 30 * 86_400), ("day", 86_400),
                       ("hour", 3_600), ("minute", 60), ("second", 1)):
        count = int(abs(seconds) // size)
        if count:
            amount = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {amount}" if seconds > 0 else f"{amount} ago"
    return "now"


def _window(effective: datetime | None, expires: datetime | None, tz: ZoneInfo,
            now: datetime, verb: str = "in force") -> str:
    start = (f"{verb} from {show(effective, tz)} ({relative(effective, now)})"
             if effective is not None else f"{verb} now")
    if expires is None:
        return start
    return f"{start} until {show(expires, tz)} ({relative(expires, now)})"


def _in_force(rule: Rule, blocklist: BlockList, action: Action, now: datetime) -> str:
    verb = "blocking" if action is Action.BLOCK else "exception"
    return _window(rule.window.effective, rule.window.expires, zone(blocklist.timezone), now,
                   verb)


def _rule(blocklist: BlockList, name: str, action: Action) -> Rule:
    return [r for r in blocklist.rules if r.pattern == name and r.action is action][-1]


def _after_removal(index: PolicyIndex, name: str, action: Action, now: datetime) -> str:
    """What the name is now that the entry is gone (for a plain name; a glob stands for
    many names)."""
    found = None if "*" in name else index.lookup(name, now)
    if found is not None and found[0].action is Action.BLOCK:
        by = f"list {found[0].list_name}, rule {found[1]}"
        return f"still blocked by {by}" if action is Action.BLOCK else \
            f"exception removed; blocked by {by}"
    return "no longer blocked" if action is Action.BLOCK else "exception removed; not blocked"


def _already(action: Action) -> str:
    return "blocked by this list" if action is Action.BLOCK else "an exception in this list"


def _verb(action: Action) -> str:
    return "block" if action is Action.BLOCK else "allow"


def _not_listed(target: _Target, name: str, action: Action) -> str:
    other = Action.ALLOW if action is Action.BLOCK else Action.BLOCK
    hint = ""
    if any(e.name == name for e in entries(target.document, other)):
        hint = f" (it is in `{SECTION[other]}:`: dnsfence {_verb(other)} remove {name} " \
               f"--list {target.blocklist.name})"
    return (f"{name} is not in `{SECTION[action]}:` of list {target.blocklist.name} "
            f"({target.path}){hint}")

