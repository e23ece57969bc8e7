"""YAML blocklist files -> a validated Policy, with every problem collected.

A directory with any error yields no policy at all: a half-loaded ban is worse
than the last good one, which the caller keeps.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from resolver.policy.index import NameHashes, PolicyIndex
from resolver.policy.ingest import SourceReport, ingest
from resolver.policy.instants import InstantError, parse_instant, zone
from resolver.policy.model import (
    Action,
    BlockList,
    Location,
    Policy,
    RegexRule,
    Rule,
    Scope,
    SourceRules,
    Window,
)
from resolver.policy.names import InvalidName, normalise_pattern
from resolver.policy.regexes import InvalidRegex, compile_pattern
from resolver.policy.remote import RemoteCache
from resolver.policy.sources import Format, SourceSpec
from resolver.policy.yamlnodes import (
    Problem,
    YamlSyntaxError,
    compose,
    location,
    mapping_items,
    scalar_text,
)

LIST_KEYS = ("name", "description", "reference", "effective", "expires", "timezone",
             "domains", "allow", "sources")
ENTRY_KEYS = ("domain", "regex", "effective", "expires")
SOURCE_KEYS = ("path", "url", "format", "as", "match", "refresh", "max_invalid")


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


def unknown_key_message(key: str, known: Iterable[str], where: str) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"
    return f"unknown key {key!r} in {where}{hint}"


def list_files(directory: Path) -> list[Path]:
    """The list files of a directory, in name order so results are reproducible."""
    return sorted(
        p for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()
    )


def load_policy(directory: Path, default_timezone: str = "UTC",
                remote_cache: Path | None = None) -> LoadResult:
    """Load every list file in `directory` and its sources, and index it; all-or-nothing.

    URL sources are read from `remote_cache` (the last good download); nothing is
    fetched here, so loading never waits on the network.
    """
    problems: list[Problem] = []
    if not directory.is_dir():
        problems.append(Problem(Location(str(directory)),
                                "blocklist directory not found; create it or pass --blocklists"))
        return LoadResult(None, tuple(problems))
    lists: list[BlockList] = []
    for path in list_files(directory):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(Location(str(path)), f"cannot read file: {exc}"))
            continue
        blocklist, found = parse_list(str(path), text, default_timezone)
        problems.extend(found)
        if blocklist is not None:
            lists.append(blocklist)
    problems.extend(_check_unique_names(lists))
    if any(p.severity == "error" for p in problems):
        return LoadResult(None, tuple(problems))
    remote = RemoteCache(remote_cache) if remote_cache is not None else None
    groups: list[tuple[SourceRules, list[str] | NameHashes]] = []
    reports: list[SourceReport] = []
    paths: list[str] = []
    for i, blocklist in enumerate(lists):
        if not blocklist.source_specs:
            continue
        got = ingest(blocklist.source_specs, blocklist.window, remote)
        problems.extend(got.problems)
        reports.extend(got.reports)
        paths.extend(got.paths)
        groups.extend(got.groups)
        lists[i] = replace(blocklist, rules=blocklist.rules + tuple(got.rules),
                           sources=tuple(g for g, _ in got.groups),
                           regexes=blocklist.regexes + tuple(got.regexes))
    if any(p.severity == "error" for p in problems):
        return LoadResult(None, tuple(problems), tuple(reports))
    index = PolicyIndex((r for b in lists for r in b.rules), groups,
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


class _ListParser:
    """Turns one file's node tree into a BlockList, collecting problems."""

    def __init__(self, path: str, default_timezone: str) -> None:
        self.path = path
        self.default_timezone = default_timezone
        self.problems: list[Problem] = []

    def error(self, node: yaml.Node | Location, message: str) -> None:
        where = node if isinstance(node, Location) else location(self.path, node)
        self.problems.append(Problem(where, message))

    def warn(self, node: yaml.Node | Location, message: str) -> None:
        where = node if isinstance(node, Location) else location(self.path, node)
        self.problems.append(Problem(where, message, "warning"))

    def text(self, node: yaml.Node, key: str) -> str | None:
        value = scalar_text(node)
        if value is None and not (isinstance(node, yaml.ScalarNode)):
            self.error(node, f"`{key}` must be a single value, not a list or mapping")
        return value

    def instant(self, node: yaml.Node, key: str, tz: ZoneInfo) -> datetime | None:
        value = self.text(node, key)
        if value is None:
            return None
        try:
            # UTC from here on: same-zone datetimes compare by wall clock (see Window).
            return parse_instant(value, tz).astimezone(UTC)
        except InstantError as exc:
            self.error(node, f"`{key}`: {exc}")
            return None

    def parse(self, root: yaml.Node | None) -> BlockList | None:
        file_location = Location(self.path, 1)
        if root is None:
            self.error(file_location, "the file is empty; a list needs at least `effective:` "
                       "and `domains:`")
            return None
        if not isinstance(root, yaml.MappingNode):
            self.error(root, "a list file must be a mapping (name:, effective:, domains: ...)")
            return None
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, key_node, value_node in mapping_items(self.path, root, self.problems):
            if key not in LIST_KEYS:
                self.error(key_node, unknown_key_message(key, LIST_KEYS, "a list"))
                continue
            fields[key] = (key_node, value_node)

        name = Path(self.path).stem
        list_location = file_location
        if "name" in fields:
            list_location = location(self.path, fields["name"][1])
            given = self.text(fields["name"][1], "name")
            if given is not None:
                if not given.strip():
                    self.error(fields["name"][1], "`name` is empty")
                name = given.strip()
        description = self._optional_text(fields, "description")
        reference = self._optional_text(fields, "reference")
        if not reference:
            self.warn(file_location, f"list {name!r} has no `reference:`; explanations will "
                      "not say which decision it carries out")

        tz_name = self.default_timezone
        if "timezone" in fields:
            tz_name = self.text(fields["timezone"][1], "timezone") or tz_name
        try:
            tz = zone(tz_name)
        except InstantError as exc:
            self.error(fields["timezone"][1] if "timezone" in fields else file_location, str(exc))
            tz = ZoneInfo("UTC")

        effective = None
        if "effective" in fields:
            effective = self.instant(fields["effective"][1], "effective", tz)
            node = fields["effective"][1]
            if isinstance(node, yaml.ScalarNode) and scalar_text(node) is None:
                self.error(fields["effective"][1], "`effective` is empty; write the first "
                           "day of the ban, e.g. effective: 2023-03-20")
        else:
            self.error(file_location, "missing `effective:`; write the first day of the ban, "
                       "e.g. effective: 2023-03-20")
        expires = None
        if "expires" in fields:
            expires = self.instant(fields["expires"][1], "expires", tz)
        if effective and expires and expires <= effective:
            self.error(fields["expires"][1], "`expires` must be after `effective` "
                       "(expires is the first instant the list no longer applies)")
        window = Window(effective, expires)

        rules: list[Rule] = []
        regexes: list[RegexRule] = []
        for key, action in (("domains", Action.BLOCK), ("allow", Action.ALLOW)):
            if key in fields:
                for entry in self._entries(fields[key][1], key, action, name, window, tz):
                    if isinstance(entry, RegexRule):
                        regexes.append(entry)
                    else:
                        rules.append(entry)
        specs: tuple[SourceSpec, ...] = ()
        if "sources" in fields:
            specs = tuple(self._sources(fields["sources"][1], name))
        if not rules and not regexes and not specs \
                and not any(p.severity == "error" for p in self.problems):
            self.warn(file_location, f"list {name!r} has no entries; it blocks nothing")
        self._warn_about_entries(rules)
        return BlockList(name, description, reference, window, tz_name, tuple(rules),
                         list_location, regexes=tuple(regexes), source_specs=specs)

    def _sources(self, node: yaml.Node, list_name: str) -> list[SourceSpec]:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, "`sources` must be a list of `- path: FILE` or `- url: URL` entries")
            return []
        specs = []
        for item in node.value:
            spec = self._source(item, list_name)
            if spec is not None:
                specs.append(spec)
        return specs

    def _source(self, item: yaml.Node, list_name: str) -> SourceSpec | None:
        if not isinstance(item, yaml.MappingNode):
            self.error(item, "a source is a mapping: `- path: vendor/list.txt` or "
                       "`- url: https://...`, with optional format, as, match, refresh")
            return None
        fields: dict[str, yaml.Node] = {}
        for key, key_node, value_node in mapping_items(self.path, item, self.problems):
            if key not in SOURCE_KEYS:
                self.error(key_node, unknown_key_message(key, SOURCE_KEYS, "a source"))
                continue
            fields[key] = value_node
        where = location(self.path, item)
        given = [k for k in ("path", "url") if k in fields]
        if len(given) != 1:
            self.error(item, "a source needs exactly one of `path:` or `url:`")
            return None
        options: dict[str, object] = {}
        ok = True
        for key, node in fields.items():
            value = self.text(node, key)
            if value is None:
                self.error(node, f"`{key}` needs a value")
                ok = False
                continue
            try:
                options[key] = _source_option(key, value.strip(), Path(self.path).parent)
            except ValueError as exc:
                self.error(node, f"`{key}`: {exc}")
                ok = False
        if not ok:
            return None
        return SourceSpec(list_name, where, path=options.get("path"),  # type: ignore[arg-type]
                          url=options.get("url"), **{k: v for k, v in options.items()  # type: ignore[arg-type]
                                                     if k not in ("path", "url")})

    def _optional_text(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], key: str) -> str:
        if key not in fields:
            return ""
        return " ".join((self.text(fields[key][1], key) or "").split())

    def _entries(self, node: yaml.Node, key: str, action: Action, list_name: str,
                 window: Window, tz: ZoneInfo) -> list[Rule | RegexRule]:
        if scalar_text(node) is None and isinstance(node, yaml.ScalarNode):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"`{key}` must be a list of names, one per line starting with '- '")
            return []
        rules: list[Rule | RegexRule] = []
        for item in node.value:
            rule = self._entry(item, key, action, list_name, window, tz)
            if rule is not None:
                rules.append(rule)
        return rules

    def _entry(self, item: yaml.Node, key: str, action: Action, list_name: str,
               window: Window, tz: ZoneInfo) -> Rule | RegexRule | None:
        own = Window()
        own_dates = False
        name_node = item
        if isinstance(item, yaml.MappingNode):
            fields = {}
            misspelt_domain = False
            for entry_key, key_node, value_node in mapping_items(self.path, item, self.problems):
                if entry_key not in ENTRY_KEYS:
                    message = unknown_key_message(entry_key, ENTRY_KEYS, f"an entry of `{key}`")
                    misspelt_domain |= message.endswith("'domain'?")
                    self.error(key_node, message)
                    continue
                fields[entry_key] = value_node
            if "regex" in fields and "domain" not in fields:
                return self._regex_entry(fields, action, list_name, window, tz)
            if "domain" not in fields:
                if not misspelt_domain:  # else the did-you-mean above says it all
                    self.error(item, f"an entry of `{key}` written as a mapping needs `domain:`")
                return None
            if "regex" in fields:
                self.error(fields["regex"], "an entry has either `domain:` or `regex:`, not both")
                return None
            name_node = fields["domain"]
            effective = self.instant(fields["effective"], "effective", tz) \
                if "effective" in fields else None
            expires = self.instant(fields["expires"], "expires", tz) \
                if "expires" in fields else None
            if effective and expires and expires <= effective:
                self.error(fields["expires"], "`expires` must be after `effective`")
                return None
            own = Window(effective, expires)
            own_dates = effective is not None or expires is not None
            if effective and window.effective and effective < window.effective:
                self.warn(fields["effective"], "this entry's `effective` is before its list's; "
                          "the list's date governs")
            if window.expires and effective and effective >= window.expires:
                self.warn(fields["effective"], "this entry starts after its list expires; "
                          "it will never apply")
            if window.effective and expires and expires <= window.effective:
                self.warn(fields["expires"], "this entry expires before its list starts; "
                          "it will never apply")
        text = scalar_text(name_node)
        if text is None:
            self.error(name_node, f"an entry of `{key}` must be a domain name")
            return None
        if _ip_address(text):
            self.error(name_node, f"{text.strip()!r} is an IP address; dnsfence blocks domain "
                       "names (write the name the clients look up)")
            return None
        try:
            pattern = normalise_pattern(text)
        except InvalidName as exc:
            self.error(name_node, str(exc))
            return None
        if _looks_like_ip(pattern):
            self.error(name_node, f"{text.strip()!r} is an IP address; dnsfence blocks domain "
                       "names (write the name the clients look up)")
            return None
        return Rule(pattern, action, list_name, window.intersect(own),
                    location(self.path, name_node), own_dates)

    def _regex_entry(self, fields: dict[str, yaml.Node], action: Action, list_name: str,
                     window: Window, tz: ZoneInfo) -> RegexRule | None:
        node = fields["regex"]
        pattern = scalar_text(node)
        if not pattern:
            self.error(node, "`regex` needs a pattern, e.g. regex: '^ads?[0-9]*\\.'")
            return None
        try:
            compile_pattern(pattern)
        except InvalidRegex as exc:
            self.error(node, f"`regex`: {exc}")
            return None
        effective = self.instant(fields["effective"], "effective", tz) \
            if "effective" in fields else None
        expires = self.instant(fields["expires"], "expires", tz) \
            if "expires" in fields else None
        return RegexRule(pattern, action, list_name, window.intersect(Window(effective, expires)),
                         location(self.path, node))

    def _warn_about_entries(self, rules: list[Rule]) -> None:
        seen: dict[tuple[str, Action], Rule] = {}
        by_pattern: dict[str, list[Rule]] = {}
        for rule in rules:
            first = seen.setdefault((rule.pattern, rule.action), rule)
            if first is not rule:
                self.warn(rule.location, f"duplicate entry {rule.pattern!r} "
                          f"(also on line {first.location.line})")
                continue
            by_pattern.setdefault(rule.pattern, []).append(rule)
        for pattern, same in by_pattern.items():
            if len({r.action for r in same}) > 1:
                allowed = next(r for r in same if r.action is Action.ALLOW)
                self.warn(allowed.location, f"{pattern!r} is both blocked and allowed in this "
                          "list; the exception wins, so the block does nothing")
        plain = {(r.pattern, r.action): r for r in seen.values() if not r.is_glob}
        by_suffix: dict[tuple[str, Action], list[Rule]] = {}
        for rule in seen.values():
            by_suffix.setdefault((rule.suffix, rule.action), []).append(rule)
        unique = list(seen.values())
        for rule in unique:
            parent = _covering_parent(rule, plain)
            if parent is None:
                continue
            if _opposite_between(rule, parent, by_suffix, unique):
                continue  # an exception in between makes this entry meaningful
            self.warn(rule.location, f"{rule.pattern!r} is already covered by "
                      f"{parent.pattern!r} (line {parent.location.line}); it can be removed")


def _covering_parent(rule: Rule, plain: dict[tuple[str, Action], Rule]) -> Rule | None:
    """A plain entry of the same list that already decides everything `rule` does."""
    name = rule.suffix
    if not rule.is_glob:
        dot = name.find(".")
        if dot < 0:
            return None
        name = name[dot + 1:]
    while name:
        parent = plain.get((name, rule.action))
        if parent is not None and parent is not rule and _covers(parent.window, rule.window):
            return parent
        dot = name.find(".")
        if dot < 0:
            return None
        name = name[dot + 1:]
    return None


def _opposite_between(rule: Rule, parent: Rule, by_suffix: dict[tuple[str, Action], list[Rule]],
                      rules: list[Rule]) -> bool:
    """Whether a rule of the other action, no shallower than `parent` and no deeper than
    `rule`, may match a name `rule` matches: then `rule` decides names `parent` would not."""
    other = Action.ALLOW if rule.action is Action.BLOCK else Action.BLOCK

    def between(o: Rule) -> bool:
        return parent.depth <= o.depth <= rule.depth and _related(o, rule)

    if rule.is_glob:  # rare: globs are few, a scan is fine
        return any(o.action is other and between(o) for o in rules)
    # A plain rule's names can only be matched by rules keyed at it or above it
    # (at most as deep, a glob's key is shorter still), so walk up its name.
    name = rule.pattern
    while True:
        if any(between(o) for o in by_suffix.get((name, other), ())):
            return True
        if not name:
            return False
        dot = name.find(".")
        name = name[dot + 1:] if dot >= 0 else ""


def _related(a: Rule, b: Rule) -> bool:
    """Whether some name could be matched by both rules (exact for plain rules)."""
    if not a.is_glob and not b.is_glob:
        return a.matches(b.pattern) or b.matches(a.pattern)
    x, y = a.suffix, b.suffix
    return not x or not y or x == y or x.endswith("." + y) or y.endswith("." + x)


def _covers(outer: Window, inner: Window) -> bool:
    starts_before = outer.effective is None or (
        inner.effective is not None and outer.effective <= inner.effective)
    ends_after = outer.expires is None or (
        inner.expires is not None and inner.expires <= outer.expires)
    return starts_before and ends_after


def _ip_address(text: str) -> bool:
    """An IPv4 or IPv6 address as written (brackets and a trailing dot tolerated)."""
    raw = text.strip().removesuffix(".")
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    if ":" not in raw and not raw.replace(".", "").isdigit():
        return False  # the usual case, decided without an exception
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        return False
    return True


def _looks_like_ip(pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> float:
    """'24h', '30m', '7d', '3600' -> seconds."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _DURATION else "s"
    number = raw[:-1] if raw[-1:] in _DURATION else raw
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30m, 24h or 7d") from None
    if value <= 0:
        raise ValueError("a duration must be positive")
    return value * _DURATION[unit]


def _source_option(key: str, value: str, base: Path) -> object:
    if key == "path":
        return base / value
    if key == "url":
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r}: only http:// and https:// URLs are fetched "
                             "(for a local file write `path:`)")
        return value
    if key == "format":
        try:
            return Format(value.lower())
        except ValueError:
            known = ", ".join(f.value for f in Format)
            raise ValueError(f"unknown format {value!r} (known: {known})") from None
    if key == "as":
        if value.lower() not in ("block", "allow"):
            raise ValueError("write `as: allow` (entries become exceptions) or `as: block`")
        return Action(value.lower())
    if key == "match":
        if value.lower() not in ("subtree", "exact"):
            raise ValueError("write `match: subtree` (names block their subdomains too) or "
                             "`match: exact`")
        return Scope(value.lower())
    if key == "refresh":
        return parse_duration(value)
    if key == "max_invalid":
        share = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
        if not 0 <= share <= 1:
            raise ValueError("write a share such as 10% or 0.1")
        return share
    raise ValueError(f"unknown key {key!r}")


def parse_list(path: str, text: str, default_timezone: str = "UTC"
               ) -> tuple[BlockList | None, list[Problem]]:
    """One list file's text -> (BlockList or None, problems)."""
    parser = _ListParser(path, default_timezone)
    try:
        root = compose(path, text)
    except YamlSyntaxError as exc:
        return None, [exc.problem]
    blocklist = parser.parse(root)
    if any(p.severity == "error" for p in parser.problems):
        return None, parser.problems
    return blocklist, parser.problems
