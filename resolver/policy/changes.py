"""A transition as `dnsfence schedule` says it, in words and as JSON values (the dashboard's
timeline shows the same)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from resolver.policy.instants import iso, show, zone
from resolver.policy.model import Action
from resolver.policy.timeline import Transition


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


def transition_fields(t: Transition) -> dict[str, Any]:
    """The JSON values of `dnsfence schedule --json` for one transition."""
    tz = zone(t.blocklist.timezone)
    return {"instant": iso(t.instant, tz), "utc": iso(t.instant, UTC),
            "list": t.blocklist.name, "rule": t.rule.pattern if t.rule else None,
            "action": t.rule.action.value if t.rule else None,
            "change": t.change, "names": t.names}
