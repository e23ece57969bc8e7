"""`dnsfence schedule`: what starts and ends when."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK
from resolver.policy.instants import iso, show, zone
from resolver.policy.loaded import Policy
from resolver.policy.model import Action
from resolver.policy.timeline import Transition, transitions


def describe(t: Transition) -> str:
    if t.change in ("opens", "closes"):
        if t.rule is None:
            return f"{t.blocklist.name}: window {t.change} ({_count(t)})"
        kind = "block" if t.rule.action is Action.BLOCK else "exception"
        return f"{t.blocklist.name}: {kind} {t.rule.pattern} window {t.change} " \
            f"({t.rule.location})"
    if t.change == "observation starts":
        return f"{t.blocklist.name}: observation starts, blocking from " \
            f"{show(t.blocklist.window.effective, zone(t.blocklist.timezone))} " \
            f"(what it will block is answered and counted as observed)"
    if t.rule is None:
        what = "blocking" if any(r.action is Action.BLOCK for r in t.blocklist.rules) \
            else "exceptions"
        return f"{t.blocklist.name}: {what} {t.change} ({_count(t)})"
    kind = "block" if t.rule.action is Action.BLOCK else "exception"
    return f"{t.blocklist.name}: {kind} {t.rule.pattern} {t.change} ({t.rule.location})"


def _count(t: Transition) -> str:
    """'5 names, 1 exception': the entries that start or end with the whole list (or open
    and close with its weekly windows)."""
    if t.change in ("opens", "closes"):
        moving = [r for r in t.blocklist.rules if r.weekly is t.blocklist.schedule
                  and r.window.contains(t.instant)]
    else:
        bound = "effective" if t.change == "starts" else "expires"
        moving = [r for r in t.blocklist.rules
                  if not r.window.empty and getattr(r.window, bound) == t.instant]
    blocks = sum(1 for r in moving if r.action is Action.BLOCK)
    exceptions = len(moving) - blocks
    parts = [f"{blocks} name{'s' * (blocks != 1)}"] if blocks or not exceptions else []
    if exceptions:
        parts.append(f"{exceptions} exception{'s' * (exceptions != 1)}")
    return ", ".join(parts)


WINDOW_DAYS = 7
"""Without `--until`, weekly windows are listed for this many days: they repeat for ever."""


def run(policy: Policy, start: datetime | None, until: datetime | None, *, as_json: bool,
        out: TextIO, now: datetime | None = None) -> int:
    windows_from = start or now or datetime.now(UTC)
    windows_until = until or windows_from + timedelta(days=WINDOW_DAYS)
    shown = 0
    for t in transitions(policy, windows_from, windows_until):
        if (start is not None and t.instant < start) or (until is not None
                                                         and t.instant >= until):
            continue
        tz = zone(t.blocklist.timezone)
        shown += 1
        if as_json:
            print(json.dumps({
                "instant": iso(t.instant, tz), "utc": iso(t.instant, UTC),
                "list": t.blocklist.name, "rule": t.rule.pattern if t.rule else None,
                "action": t.rule.action.value if t.rule else None,
                "change": t.change, "names": t.names,
            }), file=out)
        else:
            local = show(t.instant, tz)
            utc = show(t.instant, UTC)
            print(f"{local:<22} ({utc})  {describe(t)}", file=out)
    if shown == 0 and not as_json:
        print("no transitions in that period", file=out)
    return EXIT_OK
