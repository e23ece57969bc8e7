"""What the downloading process says about its `url:` downloads: log lines, and the
missing sources as `dnsfence status` and `/healthz` show them.

A mirror that is down for a day must not write a warning a minute: a failing source
warns once per run of failures, then says at info level when it tries next.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from resolver.fetch.backoff import RetrySchedule
from resolver.fetch.updates import Update, retry_note
from resolver.policy.loaded import MissingSource

log = logging.getLogger("dnsfence")

MISSING_SHOWN = 20
"""Missing sources listed in a status report at most (the report travels in one DNS answer)."""


def log_download(item: Update, missing: bool) -> None:
    """One line for a download that did something: failed, or brought a new copy.

    `missing`: the running policy lacks this source (never downloaded)."""
    result = item.result
    if item.changed:
        log.info("dnsfence: %s", item.describe())
        return
    if not result.failed:
        return
    first = item.attempts is None or item.attempts.failures <= 1
    if missing and item.attempts is not None:
        line = (f"{item.spec.location}: source {item.spec.url} of list {item.spec.list_name} "
                f"is still not downloaded (the list is served without it): {result.message}; "
                f"{retry_note(item.attempts, time.time())}")
    else:
        line = item.describe()
    (log.warning if first else log.info)("dnsfence: %s", line)


def missing_state(sources: tuple[MissingSource, ...],
                  retries: RetrySchedule | None) -> list[dict[str, Any]]:
    """The sources a policy lacks as JSON values; with the downloader's `retries`, how its
    attempts went (failures in a row, the last error, the next try)."""
    found = []
    for source in sources[:MISSING_SHOWN]:
        attempts = retries.attempts(source.url) if retries is not None else None
        found.append({
            "list": source.list_name, "url": source.url, "location": str(source.location),
            "failures": None if attempts is None else attempts.failures,
            "last_error": None if attempts is None else attempts.last_error,
            "next_attempt": None if attempts is None else attempts.next_at,
        })
    return found
