"""`dnsfence block|allow add|remove` and `dnsfence list new`: change list files safely.

The command line over resolver.edit: a change is made on the file's text, the
directory as it would then be is checked exactly as `dnsfence lint` checks it, and
only then is the file replaced, atomically. Nothing is written when anything is wrong.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.problems_report import report
from resolver.config.settings import Config
from resolver.edit.checks import (
    EditDirectory,
    Target,
    check_window,
    checked_edit,
    checked_names,
    checked_new,
    find_target,
    loaded_directory,
    new_warnings,
    same_dates,
    stripped,
)
from resolver.edit.document import SECTION, EditError, Entry, entries
from resolver.edit.new_list import new_list_text
from resolver.edit.replace import replace_file
from resolver.edit.splice import add_entries, remove_entries
from resolver.policy.index import PolicyIndex
from resolver.policy.instants import InstantError, show, zone
from resolver.policy.model import Action, BlockList, Rule
from resolver.policy.period import index_of

_LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


# --- the commands ----------------------------------------------------------------------------

def run_add(config: Config, list_name: str, names: Sequence[str], action: Action, *,
            effective: str | None = None, expires: str | None = None,
            reference: str | None = None, out: TextIO, err: TextIO,
            now: datetime | None = None) -> int:
    """`dnsfence block add` (BLOCK) and `dnsfence allow add` (ALLOW)."""
    try:
        target = find_target(_directory(config), list_name)
        effective, expires = stripped(effective), stripped(expires)
        check_window(effective, expires, target.tz)
        wanted = [Entry(name, effective, expires, reference) for name in checked_names(names)]
        present = {e.name: e for e in entries(target.document, action) if e.name}
        new = []
        for entry in wanted:
            listed = present.get(entry.name)
            if listed is None:
                new.append(entry)
            elif same_dates(listed, entry, target.tz):
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
        loaded, after = checked_edit(_directory(config), target, text, added, Counter())
        replace_file(target.path, text, previous=target.text)
        report(new_warnings(target.loaded, loaded, target.path), err)
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
        target = find_target(_directory(config), list_name)
        wanted = checked_names(names)
        listed = entries(target.document, action)
        present = {e.name for e in listed}
        missing = [name for name in wanted if name not in present]
        if missing:
            raise EditError("\n".join(_not_listed(target, name, action) for name in missing)
                            + "\nnothing was changed")
        text = remove_entries(target.document, action, wanted)
        removed = Counter((e.name, action) for e in listed if e.name in wanted)
        loaded, after = checked_edit(_directory(config), target, text, Counter(), removed)
        replace_file(target.path, text, previous=target.text)
        report(new_warnings(target.loaded, loaded, target.path), err)
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
            description: str | None = None, observe_from: str | None = None,
            out: TextIO, err: TextIO, now: datetime | None = None) -> int:
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
        loaded = loaded_directory(_directory(config))
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
        effective, expires = effective.strip(), stripped(expires)
        check_window(effective, expires, tz)
        if not reference.strip():
            raise EditError("--reference is empty; name the decision the list carries out")
        path = directory / f"{list_name}.yaml"
        text = new_list_text(list_name, effective=effective, reference=reference,
                             timezone=tz_name, expires=expires, description=description,
                             observe_from=stripped(observe_from))
        after_load, after = checked_new(_directory(config), path, text, list_name)
        replace_file(path, text, previous=None)
        report(new_warnings(loaded, after_load, path), err)
        moment = now or datetime.now(UTC)
        when = _window(after.window.effective, after.window.expires, tz, moment)
        print(f"{list_name}: created {path}, {when}; add names with: "
              f"dnsfence block add NAME... --list {list_name}", file=out)
        return EXIT_OK
    except EditError as exc:
        return _refused(exc, err)


def _directory(config: Config) -> EditDirectory:
    return EditDirectory(config.blocklists, config.timezone, config.lists.cache_dir,
                         config.group_names, config.lists.allow_missing)


def _refused(exc: EditError, err: TextIO) -> int:
    report(exc.problems, err)
    for line in str(exc).splitlines():
        print(f"dnsfence: {line}", file=err)
    return EXIT_PROBLEMS


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


def _not_listed(target: Target, name: str, action: Action) -> str:
    other = Action.ALLOW if action is Action.BLOCK else Action.BLOCK
    hint = ""
    if any(e.name == name for e in entries(target.document, other)):
        hint = f" (it is in `{SECTION[other]}:`: dnsfence {_verb(other)} remove {name} " \
               f"--list {target.blocklist.name})"
    return (f"{name} is not in `{SECTION[action]}:` of list {target.blocklist.name} "
            f"({target.path}){hint}")

