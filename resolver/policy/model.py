"""The policy's data: lists, rules, time windows and verdicts.

Everything here is immutable so that a policy built off the event loop can be
handed to the server in one assignment and shared between threads safely.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from resolver.policy.audience import Audience
from resolver.policy.weekly import WeeklySchedule


class Action(enum.Enum):
    """What a matching rule does to a name."""

    BLOCK = "block"
    ALLOW = "allow"


class Scope(enum.Enum):
    """What a plain name matches."""

    EXACT = "exact"      # the name only (hosts and domains lines, as Pi-hole reads them)
    SUBTREE = "subtree"  # the name and every name below it (YAML entries, adblock ||x^)


_NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was written, for messages an admin can act on."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open interval of time [effective, expires); None means unbounded.

    Bounds are stored in UTC: Python compares two datetimes that share a
    ZoneInfo by wall clock, which is wrong across a DST change (02:30 in a
    skipped hour would sort before 03:15 the same morning).
    """

    effective: datetime | None = None
    expires: datetime | None = None

    def __post_init__(self) -> None:
        for bound in ("effective", "expires"):
            moment = getattr(self, bound)
            if moment is None:
                continue
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"Window.{bound} must be timezone-aware, got {moment!r}")
            if moment.tzinfo is not UTC:
                object.__setattr__(self, bound, moment.astimezone(UTC))

    def contains(self, at: datetime) -> bool:
        if self.effective is not None and at < self.effective:
            return False
        return self.expires is None or at < self.expires

    @property
    def start(self) -> float:
        """Epoch seconds of `effective` (-inf when unbounded): the hot path compares floats."""
        return self.effective.timestamp() if self.effective is not None else -_NEVER

    @property
    def end(self) -> float:
        return self.expires.timestamp() if self.expires is not None else _NEVER

    def intersect(self, other: Window) -> Window:
        starts = [t for t in (self.effective, other.effective) if t is not None]
        ends = [t for t in (self.expires, other.expires) if t is not None]
        return Window(max(starts) if starts else None, min(ends) if ends else None)

    @property
    def empty(self) -> bool:
        return (
            self.effective is not None
            and self.expires is not None
            and self.expires <= self.effective
        )


def _keep_bounds(rule: Rule | SourceRules | RegexRule) -> None:
    """Store the window as epoch floats: the per-query check compares floats, not datetimes."""
    object.__setattr__(rule, "start", rule.window.start)
    object.__setattr__(rule, "end", rule.window.end)


def _glob_regex(label: str) -> re.Pattern[str]:
    return re.compile("[^.]*".join(re.escape(part) for part in label.split("*")) + r"\Z")


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of one list: a name pattern, what it does, and when.

    `pattern` is normalised (lower case, A-labels, no trailing dot). A label
    containing `*` is a glob on that label; `*.x` is therefore "every name
    below x". A rule matches a name when the name equals the pattern or lies
    below a name the pattern matches.
    """

    pattern: str
    action: Action
    list_name: str
    window: Window
    location: Location
    own_dates: bool = False
    scope: Scope = Scope.SUBTREE
    weekly: WeeklySchedule | None = None  # `schedule:`: in force only inside its windows
    audience: Audience | None = None  # `clients:`/`except_clients:`; None: every client
    suffix: str = field(init=False)
    globs: tuple[re.Pattern[str], ...] = field(init=False, compare=False, repr=False)
    depth: int = field(init=False)
    start: float = field(init=False, compare=False, repr=False)
    end: float = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _keep_bounds(self)
        labels = self.pattern.split(".")
        literal = len(labels)
        for i, label in enumerate(labels):
            if "*" in label:
                literal = len(labels) - i - 1
        split = len(labels) - literal
        object.__setattr__(self, "suffix", ".".join(labels[split:]))
        object.__setattr__(self, "globs", tuple(_glob_regex(x) for x in labels[:split]))
        object.__setattr__(self, "depth", len(labels))

    @property
    def is_glob(self) -> bool:
        return bool(self.globs)

    def matches(self, name: str) -> bool:
        """True when `name` is the pattern's name or lies below it (reference semantics)."""
        if self.scope is Scope.EXACT:
            return name == self.pattern
        if not self.globs:
            return name == self.pattern or name.endswith("." + self.pattern)
        labels = name.split(".")
        if len(labels) < self.depth:
            return False
        tail = ".".join(labels[len(labels) - self.depth + len(self.globs) :])
        if tail != self.suffix:
            return False
        start = len(labels) - self.depth
        return all(
            glob.match(labels[start + i]) is not None for i, glob in enumerate(self.globs)
        )

    @property
    def zone(self) -> str:
        """The domain an answer for this rule is attributed to (its literal suffix)."""
        return self.suffix


@dataclass(frozen=True, slots=True)
class SourceRules:
    """Every plain name one source gives a list, for one action and scope.

    A million names cost one object: the index maps each name to this shared
    value, and the name that matched is reported beside it.
    """

    source: str          # the path or URL as the YAML names it
    action: Action
    scope: Scope
    list_name: str
    window: Window
    location: Location   # the `sources:` entry in the list file
    count: int
    weekly: WeeklySchedule | None = None
    audience: Audience | None = None
    start: float = field(init=False, compare=False, repr=False)
    end: float = field(init=False, compare=False, repr=False)
    is_glob = False

    def __post_init__(self) -> None:
        _keep_bounds(self)


@dataclass(frozen=True, slots=True)
class RegexRule:
    """A regular expression entry (YAML `- regex:` or a regex source line)."""

    pattern: str
    action: Action
    list_name: str
    window: Window
    location: Location
    weekly: WeeklySchedule | None = None
    audience: Audience | None = None
    start: float = field(init=False, compare=False, repr=False)
    end: float = field(init=False, compare=False, repr=False)
    is_glob = False

    def __post_init__(self) -> None:
        _keep_bounds(self)


AnyRule = Rule | SourceRules | RegexRule


@dataclass(frozen=True, slots=True)
class BlockList:
    """One YAML file: a decision, its dates, and its rules."""

    name: str
    description: str
    reference: str
    window: Window
    timezone: str
    rules: tuple[Rule, ...]
    location: Location
    sources: tuple[SourceRules, ...] = ()
    regexes: tuple[RegexRule, ...] = ()
    schedule: WeeklySchedule | None = None  # the list's weekly windows, if any
    observe_from: datetime | None = None
    """Start of the warning period (UTC): until `effective`, what the list will block is
    answered as usual and counted as "observed"."""
    audience: Audience | None = None
    """The clients the list applies to (`clients:`, `except_clients:`); None: every one."""

    @property
    def size(self) -> int:
        """Entries in the list: its own rules, its regexes, and its sources' names."""
        return len(self.rules) + len(self.regexes) + sum(s.count for s in self.sources)


def in_force(rule: AnyRule, at: float) -> bool:
    """Inside its dates and, with a `schedule:`, inside one of its windows (not the hot path:
    the index inlines this)."""
    return rule.start <= at < rule.end and (rule.weekly is None or rule.weekly.active(at))


def precedence(rule: AnyRule, depth: int) -> tuple[int, bool, bool]:
    """Most specific first; at equal depth an exception beats a block, a plain rule a glob."""
    return (depth, rule.action is Action.ALLOW, not rule.is_glob)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one name at one instant, with the rule that made it."""

    name: str
    at: datetime
    rule: Rule | None

    @property
    def blocked(self) -> bool:
        return self.rule is not None and self.rule.action is Action.BLOCK
