"""Reading `schedule: {mon-fri: ["09:00-12:30", "13:30-17:30"], sat: "10:00-12:00"}`.

Every mistake is reported at its file:line, like any other key of a list, and a
schedule with one mistake is not used at all (nothing loads until it is fixed).
"""

from __future__ import annotations

import difflib
import re

import yaml

from resolver.lists.marks import location, mapping_items, scalar_text
from resolver.lists.problems import Problem
from resolver.policy.weekly import DAYS, DailyWindow, WeeklyPattern

_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\Z")
EXAMPLE = 'schedule: {mon-fri: ["09:00-12:30", "13:30-17:30"], sat: "10:00-12:00"}'


class _ScheduleError(ValueError):
    """One mistake in one part of a schedule."""


def _day(text: str) -> int:
    word = text.strip().lower()
    if word in DAYS:
        return DAYS.index(word)
    close = difflib.get_close_matches(word[:3], DAYS, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise _ScheduleError(f"unknown day {text.strip()!r}{hint} (days are written "
                         f"{', '.join(DAYS)}; ranges as mon-fri)")


def days_of(key: str) -> list[int]:
    """'mon-fri', 'sat,sun', 'mon-wed, fri', 'fri-mon' (a range may wrap past Sunday)."""
    found: list[int] = []
    for part in key.split(","):
        if not part.strip():
            raise _ScheduleError(f"empty day in {key!r}")
        if "-" in part:
            first_text, _, last_text = part.partition("-")
            first, last = _day(first_text), _day(last_text)
            span = (last - first) % 7
            found.extend((first + i) % 7 for i in range(span + 1))
        else:
            found.append(_day(part))
    return found


def _seconds(text: str, *, end: bool) -> int:
    match = _TIME.match(text.strip())
    if match is None:
        raise _ScheduleError(f"cannot read {text.strip()!r} as a time; write HH:MM, e.g. 09:00")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if end and total == 86_400:
        return total  # 24:00, the end of the day
    if hours > 23 or minutes > 59 or seconds > 59:
        limit = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise _ScheduleError(f"{text.strip()!r} is not a time of day ({limit})")
    return total


def window_of(text: str, day: int) -> DailyWindow:
    """'09:00-12:30' on `day`; an end before the start runs into the next day."""
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise _ScheduleError(f"{text.strip()!r} is not a window; write START-END, "
                             "e.g. 09:00-12:30")
    start = _seconds(start_text, end=False)
    end = _seconds(end_text, end=True)
    if end == start:
        raise _ScheduleError(f"{text.strip()!r} is empty (it ends when it starts); "
                             "write 00:00-24:00 for a whole day")
    return DailyWindow(day, start, end)


def parse_schedule(path: str, node: yaml.Node, timezone: str,
                   problems: list[Problem]) -> WeeklyPattern | None:
    """The pattern `node` describes, or None after adding its problems."""
    before = len(problems)

    def error(where: yaml.Node, message: str) -> None:
        problems.append(Problem(location(path, where), message))

    if not isinstance(node, yaml.MappingNode) or not node.value:
        error(node, f"`schedule` must map days to windows, e.g. {EXAMPLE}")
        return None
    windows: list[DailyWindow] = []
    parts: list[str] = []
    first_seen: dict[int, str] = {}
    for key, key_node, value_node in mapping_items(path, node, problems):
        try:
            days = days_of(key)
        except _ScheduleError as exc:
            error(key_node, f"`schedule`: {exc}")
            continue
        for day in days:
            if day in first_seen:
                error(key_node, f"`schedule`: {DAYS[day]} is given twice (in "
                      f"{first_seen[day]!r} and {key!r}); write each day once")
            first_seen.setdefault(day, key)
        texts = _window_texts(value_node)
        if not texts:
            error(value_node, f"`schedule`: {key!r} has no window; write e.g. "
                  f'{key}: "09:00-17:00", or leave the day out')
            continue
        shown = []
        for text_node in texts:
            text = scalar_text(text_node)
            if text is None:
                error(text_node, "`schedule`: a window is a time range such as 09:00-12:30")
                continue
            try:
                made = [window_of(text, day) for day in days]
            except _ScheduleError as exc:
                error(text_node, f"`schedule`: {exc}")
                continue
            windows.extend(made)
            shown.append(text.strip())
        parts.append(f"{key.strip()} {', '.join(shown)}")
    if len(problems) > before:
        return None
    return WeeklyPattern(timezone, tuple(windows), "; ".join(parts))


def _window_texts(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.ScalarNode) and scalar_text(node) is not None:
        return [node]
    if isinstance(node, yaml.MappingNode):
        return [node]  # reported as not a window
    return []
