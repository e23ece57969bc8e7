"""The "Lists" and "Timeline" sections, from the policy the server enforces (the one its
reloader holds, never one loaded again): each list's state and dates in its own time zone,
and the transitions `dnsfence schedule` lists, with "now" between the past and the coming.

Only plain values leave here: the page must not keep a policy alive once a reload has
replaced it (the supervisor frees the old one before it forks new workers).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from resolver.lists.remote_cache import RemoteCache
from resolver.policy.changes import describe, transition_fields
from resolver.policy.instants import iso, zone
from resolver.policy.loaded import Policy
from resolver.policy.model import Action, AnyRule, BlockList
from resolver.policy.timeline import Transition, transitions

PAST_SHOWN = 8
COMING_SHOWN = 12
WEEKLY_DAYS = 7
"""Weekly windows are shown for this many days ahead (they repeat for ever), and for one
day back."""


def state_of(blocklist: BlockList, now: datetime) -> str:
    """in force, scheduled, observing (its warning period) or expired, at `now`."""
    window = blocklist.window
    if window.expires is not None and now >= window.expires:
        return "expired"
    if window.effective is not None and now < window.effective:
        observe = blocklist.observe_from
        return "observing" if observe is not None and now >= observe else "scheduled"
    return "in force"


def _blocks(blocklist: BlockList) -> bool:
    entries: tuple[AnyRule, ...] = (*blocklist.rules, *blocklist.sources, *blocklist.regexes)
    return any(entry.action is Action.BLOCK for entry in entries)


def lists_section(policy: Policy, now: datetime, cache_dir: Path) -> list[dict[str, Any]]:
    cache = RemoteCache(cache_dir)
    missing: dict[str, list[str]] = {}
    for absent in policy.missing_sources:
        missing.setdefault(absent.list_name, []).append(absent.url)
    found = []
    for blocklist in policy.lists:
        tz = zone(blocklist.timezone)
        schedule = blocklist.schedule
        sources = []
        for source in blocklist.sources:
            url = source.source.startswith(("http://", "https://"))
            copy = cache.cached(source.source) if url else None
            sources.append({
                "source": source.source, "names": source.count, "url": url,
                "action": source.action.value,
                "downloaded": None if copy is None
                else iso(datetime.fromtimestamp(copy.fetched_at, UTC), tz),
                "missing": False})
        sources += [{"source": url, "names": 0, "url": True, "action": None,
                     "downloaded": None, "missing": True}
                    for url in missing.get(blocklist.name, ())]
        found.append({
            "name": blocklist.name, "description": blocklist.description,
            "reference": blocklist.reference or None, "state": state_of(blocklist, now),
            "blocks": _blocks(blocklist), "timezone": blocklist.timezone,
            "effective": iso(blocklist.window.effective, tz),
            "expires": iso(blocklist.window.expires, tz),
            "observe_from": iso(blocklist.observe_from, tz),
            "schedule": None if schedule is None else {
                "text": schedule.text, "open": schedule.active(now.timestamp())},
            "clients": None if blocklist.audience is None else blocklist.audience.text,
            "entries": blocklist.size, "file": str(blocklist.location),
            "sources": sources})
    return found


def _shown(t: Transition, now: datetime) -> dict[str, Any]:
    return {**transition_fields(t), "text": describe(t), "past": t.instant <= now}


def timeline_section(policy: Policy, now: datetime) -> dict[str, Any]:
    """The last `PAST_SHOWN` transitions and the next `COMING_SHOWN`, in time order."""
    every = transitions(policy, now - timedelta(days=1), now + timedelta(days=WEEKLY_DAYS))
    past = [t for t in every if t.instant <= now][-PAST_SHOWN:]
    coming = [t for t in every if t.instant > now][:COMING_SHOWN]
    return {"now": iso(now, zone(policy.default_timezone)),
            "past": [_shown(t, now) for t in past],
            "coming": [_shown(t, now) for t in coming],
            "weekly_days": WEEKLY_DAYS}


def next_change_does(policy: Policy, next_change: float | None) -> list[str]:
    """What happens at the server's next change (`dnsfence schedule`'s words)."""
    if next_change is None or not math.isfinite(next_change):
        return []
    at = datetime.fromtimestamp(next_change, UTC)
    window = transitions(policy, at - timedelta(seconds=1), at + timedelta(seconds=1))
    return [describe(t) for t in window if abs((t.instant - at).total_seconds()) < 0.5]
