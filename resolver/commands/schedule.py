"""`dnsfence schedule`: what starts and ends when."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK
from resolver.policy.changes import describe, transition_fields
from resolver.policy.instants import show, zone
from resolver.policy.loaded import Policy
from resolver.policy.timeline import transitions

__all__ = ["WINDOW_DAYS", "describe", "run"]

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
            print(json.dumps(transition_fields(t)), file=out)
        else:
            local = show(t.instant, tz)
            utc = show(t.instant, UTC)
            print(f"{local:<22} ({utc})  {describe(t)}", file=out)
    if shown == 0 and not as_json:
        print("no transitions in that period", file=out)
    return EXIT_OK
