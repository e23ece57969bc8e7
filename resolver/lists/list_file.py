"""One YAML list file -> a validated BlockList, with every problem found at its file:line.

The parser walks PyYAML's node tree (resolver.lists.marks) rather than Python
objects, so each problem can name where it was written and dates stay as written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from resolver.lists.entry_warnings import entry_warnings
from resolver.lists.list_audience import parse_audience
from resolver.lists.marks import YamlSyntaxError, compose, location, mapping_items, scalar_text
from resolver.lists.problems import Problem, unknown_key_message
from resolver.lists.source_options import SOURCE_KEYS, source_option
from resolver.lists.sources import SourceSpec
from resolver.lists.weekly_schedule import parse_schedule
from resolver.policy.audience import Audience
from resolver.policy.instants import InstantError, parse_instant, zone
from resolver.policy.model import Action, BlockList, Location, RegexRule, Rule, Window
from resolver.policy.names import InvalidName, normalise_pattern
from resolver.policy.regexes import InvalidRegex, compile_pattern
from resolver.policy.weekly import WeeklySchedule

LIST_KEYS = ("name", "description", "reference", "observe_from", "effective", "expires",
             "timezone", "schedule", "clients", "except_clients", "domains", "allow", "sources")
ENTRY_KEYS = ("domain", "regex", "effective", "expires", "schedule")


class _ListParser:
    """Turns one file's node tree into a BlockList, collecting problems."""

    def __init__(self, path: str, default_timezone: str,
                 groups: Collection[str] | None = None) -> None:
        self.path = path
        self.default_timezone = default_timezone
        self.groups = groups  # the config's group names; None: not checked
        self.audience: Audience | None = None  # the list's `clients:`, once parsed
        self.problems: list[Problem] = []
        self.specs: tuple[SourceSpec, ...] = ()  # the list's `sources:`, once parsed
        self.tz_name = default_timezone
        self.weekly: WeeklySchedule | None = None  # the list's `schedule:`, once parsed

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
        self.tz_name = tz.key
        if "schedule" in fields:
            self.weekly = self._schedule(fields["schedule"][1], None)
        self.audience = parse_audience(self.path, {k: v for k, (_, v) in fields.items()},
                                       self.groups, self.problems)

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
        observe_from = None
        if "observe_from" in fields:
            observe_from = self.instant(fields["observe_from"][1], "observe_from", tz)
            if observe_from and effective and observe_from >= effective:
                self.error(fields["observe_from"][1], "`observe_from` must be before "
                           "`effective` (it starts the warning period before the ban)")

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
        self.problems.extend(entry_warnings(rules))
        self.specs = specs
        return BlockList(name, description, reference, window, tz_name, tuple(rules),
                         list_location, regexes=tuple(regexes), schedule=self.weekly,
                         observe_from=observe_from, audience=self.audience)

    def _schedule(self, node: yaml.Node, within: WeeklySchedule | None
                  ) -> WeeklySchedule | None:
        """A `schedule:` (an entry's narrows its list's, as its dates do)."""
        pattern = parse_schedule(self.path, node, self.tz_name, self.problems)
        if pattern is None:
            return within
        own = WeeklySchedule((pattern,))
        return own if within is None else within.narrowed(own)

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
                options[key] = source_option(key, value.strip(), Path(self.path).parent)
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
        weekly = self.weekly
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
            weekly = self._schedule(fields["schedule"], self.weekly) \
                if "schedule" in fields else self.weekly
            if "regex" in fields and "domain" not in fields:
                return self._regex_entry(fields, action, list_name, window, tz, weekly)
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
                    location(self.path, name_node), own_dates, weekly=weekly,
                    audience=self.audience)

    def _regex_entry(self, fields: dict[str, yaml.Node], action: Action, list_name: str,
                     window: Window, tz: ZoneInfo, weekly: WeeklySchedule | None
                     ) -> RegexRule | None:
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
                         location(self.path, node), weekly, self.audience)


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


def parse_list(path: str, text: str, default_timezone: str = "UTC",
               groups: Collection[str] | None = None
               ) -> tuple[BlockList | None, list[Problem]]:
    """One list file's text -> (BlockList or None, problems)."""
    blocklist, _, problems = parse_list_file(path, text, default_timezone, groups)
    return blocklist, problems


def parse_list_file(path: str, text: str, default_timezone: str = "UTC",
                    groups: Collection[str] | None = None
                    ) -> tuple[BlockList | None, tuple[SourceSpec, ...], list[Problem]]:
    """One list file's text -> (BlockList or None, its `sources:`, problems).

    The sources stay beside the BlockList, not in it: the policy engine never reads
    them; the loader ingests them and the fetch layer downloads their URLs.
    """
    parser = _ListParser(path, default_timezone, groups)
    try:
        root = compose(path, text)
    except YamlSyntaxError as exc:
        return None, (), [exc.problem]
    blocklist = parser.parse(root)
    if any(p.severity == "error" for p in parser.problems):
        return None, (), parser.problems
    return blocklist, parser.specs, parser.problems
